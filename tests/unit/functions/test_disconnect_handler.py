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


def _offline(connection_id: str) -> list[str]:
    return [f["user"] for f in delivered_to(connection_id) if f["type"] == "presence" and not f["online"]]


def test_disconnect_removes_the_connection_and_tells_its_rooms(
    monkeypatch: pytest.MonkeyPatch, registry: ConnectionRegistry, logs: Logs
) -> None:
    """$disconnect deletes the items; only the user's last connection announces them offline to their contacts."""
    configure(monkeypatch, unreachable_database_url())  # DynamoDB and the Management API only
    other_tab = registry.add_connection("alice-2=", 1, "alice", audience=[2]).record
    registry.subscribe(other_tab, 6)
    me = registry.add_connection(CONNECTION_ID, 1, "alice", audience=[2]).record
    registry.subscribe(me, 5)
    registry.subscribe(me, 6)
    registry.subscribe(registry.add_connection("bob-1=", 2, "bob").record, 5)
    handler = fresh_handler("disconnect")

    reply = invoke(handler, "disconnect", load_event("ws_disconnect"))

    assert reply == {"statusCode": 200}
    assert stored_connection(registry, CONNECTION_ID) is None
    assert registry.remove_connection(CONNECTION_ID).room_ids == []
    assert _offline("bob-1=") == []  # alice's other tab is open
    assert invoke(handler, "disconnect", load_event("ws_disconnect", requestContext__connectionId="alice-2=")) == {
        "statusCode": 200
    }
    assert _offline("bob-1=") == ["alice"]
    lines = logs()
    disconnected = next(line for line in lines if line.get("message") == "disconnected")
    assert disconnected["status_code"] == 1001 and disconnected["connection_id"] == CONNECTION_ID


def test_disconnect_of_an_unknown_connection_is_harmless(
    monkeypatch: pytest.MonkeyPatch, registry: ConnectionRegistry, logs: Logs
) -> None:
    """A second $disconnect (or one after the prune cleaned up) answers 200 and sends nothing."""
    configure(monkeypatch, None)
    registry.subscribe(registry.add_connection("bob-1=", 2, "bob").record, 5)
    handler = fresh_handler("disconnect")
    for _ in range(2):
        assert invoke(handler, "disconnect", load_event("ws_disconnect")) == {"statusCode": 200}
    assert delivered_to("bob-1=") == []
    assert log_messages(logs()).count("disconnected") == 2
