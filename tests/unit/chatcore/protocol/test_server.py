"""Server frames: each one serialised as the protocol names it, and the error frame's stable messages."""

from __future__ import annotations

import json
from typing import Any

import pytest
from chatcore.protocol.base import encode
from chatcore.protocol.server import (
    ChatMessage,
    ErrorCode,
    ErrorOut,
    HistoryOut,
    JoinedOut,
    ListOut,
    Member,
    MemberJoinedOut,
    MemberLeftOut,
    MessageOut,
    PongOut,
    ReadOut,
    RoomInfo,
    ServerFrame,
    TypingOut,
    error_frame,
)


def _message() -> ChatMessage:
    return ChatMessage(id=5, room_id=2, sender_id=3, sender="alice", text="hi", ts=1_700_000_000_000)


_SERVER_FRAMES: list[tuple[ServerFrame, dict[str, Any]]] = [
    (
        JoinedOut(
            room_id=2,
            room=RoomInfo(id=2, name="general", private=False, kind="group"),
            members=[Member(id=3, username="alice", online=True)],
            history=[_message()],
            has_more=False,
        ),
        {
            "type": "joined",
            "roomId": 2,
            "room": {"id": 2, "name": "general", "private": False, "kind": "group"},
            "members": [{"id": 3, "username": "alice", "online": True, "lastReadMessageId": 0}],
            "membersHasMore": False,
            "history": [
                {"id": 5, "roomId": 2, "senderId": 3, "sender": "alice", "text": "hi", "ts": 1_700_000_000_000}
            ],
            "hasMore": False,
        },
    ),
    (
        MemberJoinedOut(room_id=2, user="bob"),
        {"type": "member_joined", "roomId": 2, "user": "bob"},
    ),
    (MemberLeftOut(room_id=2, user="bob"), {"type": "member_left", "roomId": 2, "user": "bob"}),
    (
        MessageOut(room_id=2, message=_message().model_copy(update={"client_msg_id": "m-1"})),
        {
            "type": "message",
            "roomId": 2,
            "message": {
                "id": 5,
                "roomId": 2,
                "senderId": 3,
                "sender": "alice",
                "text": "hi",
                "ts": 1_700_000_000_000,
                "clientMsgId": "m-1",
            },
        },
    ),
    (
        ListOut(room_id=2, members=[Member(id=3, username="alice", nickname="Al")]),
        {
            "type": "list",
            "roomId": 2,
            "members": [{"id": 3, "username": "alice", "nickname": "Al", "online": False, "lastReadMessageId": 0}],
            "hasMore": False,
        },
    ),
    (
        HistoryOut(room_id=2, messages=[], has_more=True),
        {"type": "history", "roomId": 2, "messages": [], "hasMore": True},
    ),
    (TypingOut(room_id=2, user="bob"), {"type": "typing", "roomId": 2, "user": "bob"}),
    (ReadOut(room_id=2, user="bob", message_id=5), {"type": "read", "roomId": 2, "user": "bob", "messageId": 5}),
    (PongOut(ts=123), {"type": "pong", "ts": 123}),
    (
        error_frame(ErrorCode.SAVE_FAILED, request_type="message", room_id=2),
        {
            "type": "error",
            "code": "save_failed",
            "message": "Failed to save message",
            "requestType": "message",
            "roomId": 2,
        },
    ),
]


@pytest.mark.parametrize(("frame", "expected"), _SERVER_FRAMES, ids=[frame.type for frame, _ in _SERVER_FRAMES])
def test_server_frames_serialise_camel_case_without_nulls(frame: ServerFrame, expected: dict[str, Any]) -> None:
    """Every server frame encodes with the protocol's camelCase names and leaves out unset optional fields."""
    raw = encode(frame)
    assert isinstance(raw, bytes)
    assert json.loads(raw) == expected
    assert b"null" not in raw


def test_seed_error_messages_are_kept() -> None:
    """The first codes keep the strings early clients matched on; every code has a human message."""
    assert error_frame(ErrorCode.INVALID_MESSAGE).message == "invalid_message"
    assert error_frame(ErrorCode.UNKNOWN_TYPE).message == "unknown_type"
    assert error_frame(ErrorCode.SAVE_FAILED).message == "Failed to save message"
    assert all(isinstance(error_frame(code), ErrorOut) and error_frame(code).message for code in ErrorCode)
