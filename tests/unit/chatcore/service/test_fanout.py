"""Fan-out with dead-connection cleanup, over moto's DynamoDB and Management API (410 faked)."""

from __future__ import annotations

import time
from collections import Counter
from typing import Any, cast

import pytest
from chatcore.aws.broadcaster import Broadcaster
from chatcore.aws.registry import ConnectionRegistry
from chatcore.protocol.server import PongOut
from chatcore.records import Delivery, RemovedConnection
from chatcore.service.fanout import Fanout

from tests.conftest import TABLE, ManagementFake, delivered
from tests.helpers.records import stored_connection


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


class CountingRegistry(ConnectionRegistry):
    """The real registry on a settable clock, counting how often each connection is removed."""

    def __init__(self, client: Any, table: str) -> None:
        self.clock = Clock()
        super().__init__(client, table, clock=self.clock)
        self.removals: Counter[str] = Counter()

    def remove_connection(self, connection_id: str, *, min_age_seconds: float = 0) -> RemovedConnection:
        removed = super().remove_connection(connection_id, min_age_seconds=min_age_seconds)
        if removed.user_id is not None:
            self.removals[connection_id] += 1
        return removed

    def a_minute_later(self) -> None:
        """Past the grace in which a 410 does not remove a new connection."""
        self.clock.now += 60


@pytest.fixture
def counting(dynamodb: Any) -> CountingRegistry:
    return CountingRegistry(dynamodb, TABLE)


@pytest.fixture
def fanout(counting: CountingRegistry, management: ManagementFake) -> Fanout:
    return Fanout(counting, Broadcaster(cast(Any, management), max_workers=4))  # a stand-in for boto3's client


def _join(
    registry: ConnectionRegistry,
    connection_id: str,
    user_id: int,
    username: str,
    *rooms: int,
    contacts: tuple[int, ...] = (),
) -> None:
    record = registry.add_connection(connection_id, user_id, username, audience=contacts).record
    for room in rooms:
        registry.subscribe(record, room)


def _offline(connection_id: str) -> list[str]:
    """The users ``connection_id`` was told went offline, in order."""
    return [f["user"] for f in delivered(connection_id) if f["type"] == "presence" and f["online"] is False]


def test_forgetting_a_users_last_connection_announces_them_offline_once(
    fanout: Fanout, counting: CountingRegistry
) -> None:
    """Offline presence goes to the user's contacts only when their last connection is forgotten."""
    _join(counting, "a1", 1, "alice", 1, 2, contacts=(2,))
    _join(counting, "a2", 1, "alice", 1, contacts=(2,))  # alice's other tab
    _join(counting, "b1", 2, "bob", 1, 2, contacts=(1,))

    fanout.forget_connections(["a1"])

    assert stored_connection(counting, "a1") is None
    assert counting.remove_connection("a1") == RemovedConnection(None, None, [])  # nothing left under the id
    assert _offline("b1") == []  # alice is still online in her other tab
    assert sorted(c.connection_id for c in counting.room_connections(1)) == ["a2", "b1"]
    assert [c.connection_id for c in counting.room_connections(2)] == ["b1"]

    fanout.forget_connections(["a2"])
    assert _offline("b1") == ["alice"]


def test_forgetting_an_unknown_connection_announces_nothing(fanout: Fanout, counting: CountingRegistry) -> None:
    """A connection with no stored items (already cleaned up) is a no-op."""
    _join(counting, "b1", 2, "bob", 1, contacts=(1,))
    fanout.forget_connections(["ghost"])
    assert delivered("b1") == []
    assert stored_connection(counting, "b1") is not None


def test_dead_connections_found_while_announcing_are_forgotten_once_each(
    fanout: Fanout, counting: CountingRegistry, management: ManagementFake
) -> None:
    """Announcing an offline user may hit more gone connections: each is forgotten once, announced once."""
    everyone = (1, 2, 3, 4)
    for connection_id, user_id, name in [("a1", 1, "alice"), ("b1", 2, "bob"), ("c1", 3, "carol"), ("d1", 4, "dave")]:
        _join(counting, connection_id, user_id, name, 7, contacts=everyone)
    management.gone = {"b1", "c1"}
    counting.a_minute_later()

    fanout.forget_connections(["a1", "a1"])

    assert counting.removals == Counter({"a1": 1, "b1": 1, "c1": 1})
    assert sorted(_offline("d1")) == ["alice", "bob", "carol"]
    assert [c.connection_id for c in counting.room_connections(7)] == ["d1"]
    assert all(stored_connection(counting, c) is None for c in ("a1", "b1", "c1"))


def test_send_to_a_gone_connection_forgets_it(
    fanout: Fanout, counting: CountingRegistry, management: ManagementFake
) -> None:
    """A 410 on a direct reply removes the connection and tells the user's contacts."""
    _join(counting, "a1", 1, "alice", 3, contacts=(2,))
    _join(counting, "b1", 2, "bob", 3, contacts=(1,))
    management.gone = {"a1"}
    counting.a_minute_later()
    assert fanout.send("a1", PongOut(ts=1)) is Delivery.GONE
    assert stored_connection(counting, "a1") is None
    assert _offline("b1") == ["alice"]
    assert fanout.send("b1", PongOut(ts=2)) is Delivery.DELIVERED
    assert delivered("b1")[-1] == {"type": "pong", "ts": 2}


def test_broadcast_forgets_the_gone_after_trying_everyone(
    fanout: Fanout, counting: CountingRegistry, management: ManagementFake
) -> None:
    """The live recipients get the frame; the gone one is forgotten and its contacts hear it went offline."""
    for connection_id, user_id, name in [("a1", 1, "alice"), ("b1", 2, "bob"), ("c1", 3, "carol")]:
        _join(counting, connection_id, user_id, name, 3, contacts=(1, 2, 3))
    management.gone = {"b1"}
    counting.a_minute_later()
    result = fanout.broadcast(["a1", "b1", "c1"], PongOut(ts=5))
    assert (sorted(result.delivered), result.gone) == (["a1", "c1"], ["b1"])
    assert counting.removals == Counter({"b1": 1})
    for live in ("a1", "c1"):
        assert [f["type"] for f in delivered(live)] == ["pong", "presence"]
        assert _offline(live) == ["bob"]


def test_a_410_to_a_connection_still_opening_keeps_it(
    fanout: Fanout, counting: CountingRegistry, management: ManagementFake
) -> None:
    """API Gateway answers 410 to a connection still in $connect: a post that meets a just-registered
    connection so does not remove it, while closing it on purpose ($disconnect) does."""
    _join(counting, "new", 1, "alice", 3, contacts=(2,))
    _join(counting, "b1", 2, "bob", 3, contacts=(1,))
    management.gone = {"new"}
    assert fanout.broadcast(["new", "b1"], PongOut(ts=1)).gone == ["new"]
    assert stored_connection(counting, "new") is not None and _offline("b1") == []
    assert sorted(counting.room_connection_ids(3)) == ["b1", "new"]
    fanout.forget_connections(["new"])
    assert stored_connection(counting, "new") is None and _offline("b1") == ["alice"]


def test_presence_reaches_every_open_connection_of_the_audience(fanout: Fanout, counting: CountingRegistry) -> None:
    """presence() posts to every tab of every audience user that is online, and to nobody else."""
    _join(counting, "b1", 2, "bob")
    _join(counting, "b2", 2, "bob")
    _join(counting, "c1", 3, "carol")
    fanout.presence("alice", True, [2, 4])  # user 4 has no connection
    for tab in ("b1", "b2"):
        assert delivered(tab) == [{"type": "presence", "user": "alice", "online": True}]
    assert delivered("c1") == []
