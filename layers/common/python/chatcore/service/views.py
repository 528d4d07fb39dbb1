"""Rows as the wire shows them: the protocol's message, room and member models, for WebSocket and REST."""

from __future__ import annotations

from collections.abc import Iterable

from chatcore.protocol import ChatMessage, Member, RoomInfo
from chatcore.rows import MemberRow, MessageRow, RoomRow


def message_view(row: MessageRow) -> ChatMessage:
    return ChatMessage(
        id=row.id,
        room_id=row.room_id,
        sender_id=row.user_id,
        sender=row.username,
        text=row.content,
        ts=row.ts,
        client_msg_id=row.client_msg_id,
    )


def room_view(room: RoomRow) -> RoomInfo:
    return RoomInfo(id=room.id, name=room.name, private=room.private, kind=room.kind)


def member_views(members: Iterable[MemberRow], online_user_ids: set[int]) -> list[Member]:
    return [
        Member(
            id=m.id,
            username=m.username,
            nickname=m.nickname,
            online=m.id in online_user_ids,
            last_read_message_id=m.last_read_message_id,
        )
        for m in members
    ]
