"""Fan-out with dead-connection cleanup, over moto's DynamoDB and Management API (410 faked)."""

from __future__ import annotations

from collections import Counter
from typing import Any, cast

import pytest
from chatcore.aws.broadcaster import Broadcaster
from chatcore.aws.registry import ConnectionRegistry
from chatcore.ports import Delivery
from chatcore.protocol import PongOut
from chatcore.rows import RemovedConnection
from chatcore.service.fanout import Fanout

from tests.conftest import TABLE, ManagementFake, delivered
from tests.helpers.records import stored_connection


class CountingRegistry(ConnectionRegistry):
    """The real registry, counting how often each connection is removed."""

    def __init__(self, client: Any, table: str) -> None:
        super().__init__(client, table)
        self.removals: Counter[str] = Counter()

    def remove_connection(self, connection_id: str) -> RemovedConnection:
        self.removals[connection_id] += 1
        return super().remove_connection(connection_id)


@pytest.fixture
def counting(dynamodb: Any) -> CountingRegistry:
    return CountingRegistry(dynamodb, TABLE)


@pytest.fixture
def fanout(counting: CountingRegistry, management: ManagementFake) -> Fanout:
    return Fanout(counting, Broadcaster(cast(Any, management), max_workers=4))  # a stand-in for boto3's client


def _join(registry: ConnectionRegistry, connection_id: str, user_id: int, username: str, *rooms: int) -> None:
    record = registry.add_connection(connection_id, user_id, username)
    for room in rooms:
        registry.subscribe(record, room)


def _left(connection_id: str) -> list[tuple[int, str]]:
    return [(f["roomId"], f["user"]) for f in delivered(connection_id) if f["type"] == "member_left"]


def test_forgetting_deletes_items_and_announces_only_the_users_last_tab(
    fanout: Fanout, counting: CountingRegistry
) -> None:
    """member_left goes only to rooms where the forgotten connection was the user's last one."""
    _join(counting, "a1", 1, "alice", 1, 2)
    _join(counting, "a2", 1, "alice", 1)  # alice's other tab is still in room 1
    _join(counting, "b1", 2, "bob", 1, 2)

    fanout.forget_connections(["a1"])

    assert stored_connection(counting, "a1") is None
    assert counting.remove_connection("a1") == RemovedConnection(None, None, [])  # nothing left under the id
    assert _left("b1") == [(2, "alice")]
    assert _left("a2") == []
    assert sorted(c.connection_id for c in counting.room_connections(1)) == ["a2", "b1"]
    assert [c.connection_id for c in counting.room_connections(2)] == ["b1"]


def test_forgetting_an_unknown_connection_announces_nothing(fanout: Fanout, counting: CountingRegistry) -> None:
    """A connection with no stored items (already cleaned up) is a no-op."""
    _join(counting, "b1", 2, "bob", 1)
    fanout.forget_connections(["ghost"])
    assert delivered("b1") == []
    assert stored_connection(counting, "b1") is not None


def test_dead_connections_found_while_announcing_are_forgotten_once_each(
    fanout: Fanout, counting: CountingRegistry, management: ManagementFake
) -> None:
    """Announcing member_left may hit more gone connections: each is forgotten once, announced once."""
    for connection_id, user_id, name in [("a1", 1, "alice"), ("b1", 2, "bob"), ("c1", 3, "carol"), ("d1", 4, "dave")]:
        _join(counting, connection_id, user_id, name, 7)
    management.gone = {"b1", "c1"}

    fanout.forget_connections(["a1", "a1"])

    assert counting.removals == Counter({"a1": 1, "b1": 1, "c1": 1})
    assert sorted(_left("d1")) == [(7, "alice"), (7, "bob"), (7, "carol")]
    assert [c.connection_id for c in counting.room_connections(7)] == ["d1"]
    assert all(stored_connection(counting, c) is None for c in ("a1", "b1", "c1"))


def test_send_to_a_gone_connection_forgets_it(
    fanout: Fanout, counting: CountingRegistry, management: ManagementFake
) -> None:
    """A 410 on a direct reply removes the connection and tells its room."""
    _join(counting, "a1", 1, "alice", 3)
    _join(counting, "b1", 2, "bob", 3)
    management.gone = {"a1"}
    assert fanout.send("a1", PongOut(ts=1)) is Delivery.GONE
    assert stored_connection(counting, "a1") is None
    assert _left("b1") == [(3, "alice")]
    assert fanout.send("b1", PongOut(ts=2)) is Delivery.DELIVERED
    assert delivered("b1")[-1] == {"type": "pong", "ts": 2}


def test_broadcast_forgets_the_gone_after_trying_everyone(
    fanout: Fanout, counting: CountingRegistry, management: ManagementFake
) -> None:
    """The live recipients get the frame; the gone one is forgotten and the others hear member_left."""
    for connection_id, user_id, name in [("a1", 1, "alice"), ("b1", 2, "bob"), ("c1", 3, "carol")]:
        _join(counting, connection_id, user_id, name, 3)
    management.gone = {"b1"}
    result = fanout.broadcast(["a1", "b1", "c1"], PongOut(ts=5))
    assert (sorted(result.delivered), result.gone) == (["a1", "c1"], ["b1"])
    assert counting.removals == Counter({"b1": 1})
    for live in ("a1", "c1"):
        assert [f["type"] for f in delivered(live)] == ["pong", "member_left"]
        assert _left(live) == [(3, "bob")]
