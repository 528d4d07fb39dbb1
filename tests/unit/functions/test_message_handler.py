"""``functions/message``: the real handler module routing frames, replies landing in moto's Management API."""

from __future__ import annotations

import json
from types import ModuleType
from typing import Any

import pytest
from chatcore.aws.registry import ConnectionRegistry
from chatcore.postgres.store import ChatStore

from tests.unit.functions.conftest import Logs
from tests.unit.functions.ws_support import (
    CONNECTION_ID,
    configure,
    delivered_to,
    fresh_handler,
    invoke,
    message_event,
    unreachable_database_url,
)


@pytest.fixture
def handler(monkeypatch: pytest.MonkeyPatch, database_url: str, registry: ConnectionRegistry) -> ModuleType:
    configure(monkeypatch, database_url)
    return fresh_handler("message")


def _send(handler: ModuleType, frame: dict[str, Any] | str, connection_id: str = CONNECTION_ID) -> None:
    body = frame if isinstance(frame, str) else json.dumps(frame)
    route = frame.get("type", "$default") if isinstance(frame, dict) else "$default"
    assert invoke(handler, "message", message_event(body, connection_id, route)) == {"statusCode": 200}


def test_join_and_message_are_routed_and_answered(
    handler: ModuleType, store: ChatStore, registry: ConnectionRegistry, logs: Logs
) -> None:
    """join replies joined; a message is stored, then reaches every connection in the room as its real sender."""
    alice = store.create_user("alice", "h")
    bob = store.create_user("bob", "h")
    group = store.create_group("general", private=False, created_by=alice.id)
    registry.add_connection(CONNECTION_ID, alice.id, "alice")
    registry.add_connection("bob-1", bob.id, "bob")

    _send(handler, {"type": "join", "roomId": group.id})
    _send(handler, {"type": "join", "roomId": group.id}, "bob-1")
    _send(handler, {"type": "message", "roomId": group.id, "text": "hi", "sender": "bob", "clientMsgId": "m1"})

    mine = delivered_to(CONNECTION_ID)
    assert [f["type"] for f in mine] == ["joined", "member_joined", "message"]
    assert mine[0]["room"]["name"] == "general"
    stored, _ = store.latest_messages(group.id, 5)
    assert [(m.username, m.content, m.client_msg_id) for m in stored] == [("alice", "hi", "m1")]
    for connection_id in (CONNECTION_ID, "bob-1"):
        message = delivered_to(connection_id)[-1]["message"]
        assert (message["id"], message["sender"], message["text"]) == (stored[0].id, "alice", "hi")
    lines = logs()  # every line the function printed is JSON (parsed by the reader)
    assert all(line.get("service") == "chat" for line in lines)
    assert any("_aws" in line for line in lines)  # the Frames metric, in embedded metric format


@pytest.mark.parametrize(
    ("body", "code"),
    [
        pytest.param("not json", "invalid_message", id="not-json"),
        pytest.param('{"type":"unknown_command"}', "unknown_type", id="unknown-type"),
        pytest.param('{"type":"join","roomId":999999}', "room_not_found", id="no-such-room"),
    ],
)
def test_bad_frames_get_an_error_frame(handler: ModuleType, registry: ConnectionRegistry, body: str, code: str) -> None:
    """Bad JSON, unknown types and unknown rooms on $default or their route get an error frame back."""
    registry.add_connection(CONNECTION_ID, 1, "alice")
    _send(handler, body)
    assert [(f["type"], f["code"]) for f in delivered_to(CONNECTION_ID)] == [("error", code)]


def test_frame_from_an_unregistered_connection_gets_not_connected(handler: ModuleType) -> None:
    """A connection the registry does not know is told to reconnect, whatever it claims to be."""
    _send(handler, {"type": "ping", "userId": 1, "username": "alice"})
    assert [(f["type"], f["code"]) for f in delivered_to(CONNECTION_ID)] == [("error", "not_connected")]


def test_ping_answers_pong(handler: ModuleType, registry: ConnectionRegistry) -> None:
    """ping replies pong with a timestamp."""
    registry.add_connection(CONNECTION_ID, 1, "alice")
    _send(handler, {"type": "ping"})
    frames = delivered_to(CONNECTION_ID)
    assert [f["type"] for f in frames] == ["pong"] and isinstance(frames[0]["ts"], int)


def test_database_down_gives_save_failed_and_broadcasts_nothing(
    monkeypatch: pytest.MonkeyPatch, registry: ConnectionRegistry, logs: Logs
) -> None:
    """With PostgreSQL unreachable a message gets save_failed ("Failed to save message") and nobody else hears it."""
    configure(monkeypatch, unreachable_database_url())
    handler = fresh_handler("message")
    registry.subscribe(registry.add_connection(CONNECTION_ID, 1, "alice").record, 5)
    registry.subscribe(registry.add_connection("bob-1", 2, "bob").record, 5)

    _send(handler, {"type": "message", "roomId": 5, "text": "hello", "clientMsgId": "m1"})

    assert delivered_to(CONNECTION_ID) == [
        {
            "type": "error",
            "code": "save_failed",
            "message": "Failed to save message",
            "requestType": "message",
            "roomId": 5,
            "clientMsgId": "m1",
        }
    ]
    assert delivered_to("bob-1") == []
    error = next(line for line in logs() if line.get("message") == "database unavailable")
    assert error["level"] == "ERROR" and error["connection_id"] == CONNECTION_ID
