"""``functions/disconnect``: the real handler module on moto, with no database at all."""

from __future__ import annotations

import pytest
from chatcore.aws.registry import ConnectionRegistry

from tests.helpers.events import load_event
from tests.helpers.records import stored_connection
from tests.unit.functions.conftest import Logs
from tests.unit.functions.ws_support import (
    CONNECTION_ID,
    configure,
    delivered_to,
    fresh_handler,
    invoke,
    log_messages,
    unreachable_database_url,
)


def _left(connection_id: str) -> list[tuple[int, str]]:
    return [(f["roomId"], f["user"]) for f in delivered_to(connection_id) if f["type"] == "member_left"]


def test_disconnect_removes_the_connection_and_tells_its_rooms(
    monkeypatch: pytest.MonkeyPatch, registry: ConnectionRegistry, logs: Logs
) -> None:
    """$disconnect deletes the items and sends member_left where that was the user's last connection."""
    configure(monkeypatch, unreachable_database_url())  # DynamoDB and the Management API only
    me = registry.add_connection(CONNECTION_ID, 1, "alice")
    registry.subscribe(me, 5)
    registry.subscribe(me, 6)
    other_tab = registry.add_connection("alice-2=", 1, "alice")
    registry.subscribe(other_tab, 6)  # alice stays present in room 6
    for room in (5, 6):
        registry.subscribe(registry.add_connection(f"bob-{room}=", 2, "bob"), room)

    reply = invoke(fresh_handler("disconnect"), "disconnect", load_event("ws_disconnect"))

    assert reply == {"statusCode": 200}
    assert stored_connection(registry, CONNECTION_ID) is None
    assert registry.remove_connection(CONNECTION_ID).room_ids == []
    assert _left("bob-5=") == [(5, "alice")]
    assert _left("bob-6=") == []
    assert _left("alice-2=") == []
    lines = logs()
    disconnected = next(line for line in lines if line.get("message") == "disconnected")
    assert disconnected["status_code"] == 1001 and disconnected["connection_id"] == CONNECTION_ID


def test_disconnect_of_an_unknown_connection_is_harmless(
    monkeypatch: pytest.MonkeyPatch, registry: ConnectionRegistry, logs: Logs
) -> None:
    """A second $disconnect (or one after the prune cleaned up) answers 200 and sends nothing."""
    configure(monkeypatch, None)
    registry.subscribe(registry.add_connection("bob-1=", 2, "bob"), 5)
    handler = fresh_handler("disconnect")
    for _ in range(2):
        assert invoke(handler, "disconnect", load_event("ws_disconnect")) == {"statusCode": 200}
    assert delivered_to("bob-1=") == []
    assert log_messages(logs()).count("disconnected") == 2
