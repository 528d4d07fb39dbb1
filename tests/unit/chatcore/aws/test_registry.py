"""The DynamoDB connection registry against moto: connections, subscriptions, the room index and the TTL."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from chatcore.aws.registry import (
    CONNECTION_SK,
    DEFAULT_ITEM_TTL_SECONDS,
    TTL_ATTRIBUTE,
    ConnectionRegistry,
    shard_of,
    table_definition,
)
from chatcore.errors import LimitExceeded, RegistryUnavailable
from chatcore.records import RemovedConnection, RoomConnection, Usage
from chatcore.rules import RATE_WINDOW_SECONDS

from tests.conftest import TABLE
from tests.helpers.records import stored_connection


class Clock:
    """A settable clock, in epoch seconds."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def _items(dynamodb: Any, connection_id: str) -> list[str]:
    """Every stored item of one connection, as ``pk/sk``: its own item and its room and viewer entries."""
    items = dynamodb.scan(TableName=TABLE, ConsistentRead=True)["Items"]
    keys = [(i["pk"]["S"], i["sk"]["S"]) for i in items]
    return sorted(f"{pk}/{sk}" for pk, sk in keys if connection_id in (pk, sk))


def test_connection_is_stored_read_and_touched(dynamodb: Any) -> None:
    """add_connection stores who connected and when; touch moves last-seen; unknown ids read as None."""
    clock = Clock(1_800_000_000.0)
    registry = ConnectionRegistry(dynamodb, TABLE, clock=clock)
    record = registry.add_connection("c1", 7, "alice").record
    assert (record.connection_id, record.user_id, record.username) == ("c1", 7, "alice")
    assert record.connected_at == record.last_seen == 1_800_000_000_000
    assert record.expires_at == 1_800_000_000 + DEFAULT_ITEM_TTL_SECONDS
    assert stored_connection(registry, "c1") == record

    clock.now += 30
    assert registry.touch("c1") is True
    touched = stored_connection(registry, "c1")
    assert touched is not None and touched.last_seen == 1_800_000_030_000
    assert touched.connected_at == record.connected_at

    assert stored_connection(registry, "nope") is None
    assert registry.touch("nope") is False
    assert _items(dynamodb, "nope") == []  # touching an unknown id creates nothing


def test_count_frame_counts_frames_per_window_and_refreshes_last_seen(dynamodb: Any) -> None:
    """Each frame is counted by kind within the rate window; a new window starts from one again."""
    clock = Clock(RATE_WINDOW_SECONDS * 180_000_000.0)  # the start of a window
    registry = ConnectionRegistry(dynamodb, TABLE, clock=clock)
    record = registry.add_connection("c1", 7, "alice").record

    usages = []
    for kind in ("message", "typing", "ping", "message"):
        clock.now += 1
        checked, usage = registry.count_frame("c1", kind)
        assert checked is not None and (checked.user_id, checked.username) == (7, "alice")
        assert checked.last_seen == int(clock.now * 1000)
        usages.append(usage)
    assert usages == [Usage(1, 1, 0), Usage(2, 1, 1), Usage(3, 1, 1), Usage(4, 2, 1)]

    clock.now += RATE_WINDOW_SECONDS
    assert registry.count_frame("c1", "typing")[1] == Usage(1, 0, 1)
    assert stored_connection(registry, "c1").connected_at == record.connected_at  # type: ignore[union-attr]


def test_count_frame_of_an_unknown_or_expired_connection_gives_none(dynamodb: Any) -> None:
    """count_frame creates nothing for an unknown id and refuses a connection whose TTL has passed."""
    clock = Clock(1_800_000_000.0)
    registry = ConnectionRegistry(dynamodb, TABLE, item_ttl_seconds=60, clock=clock)
    assert registry.count_frame("ghost", "message") == (None, Usage(0, 0, 0))
    assert _items(dynamodb, "ghost") == []
    registry.add_connection("c1", 7, "alice")
    clock.now += 60
    assert registry.count_frame("c1", "ping")[0] is None


def test_subscriptions_are_listed_by_room(registry: ConnectionRegistry) -> None:
    """room_connections lists exactly the live subscribers of a room; unsubscribe removes one."""
    a = registry.add_connection("a1", 1, "alice").record
    b = registry.add_connection("b1", 2, "bob").record
    registry.subscribe(a, 10)
    registry.subscribe(b, 10)
    registry.subscribe(a, 11)
    registry.subscribe(a, 10)  # joining twice keeps one subscription

    assert sorted(registry.room_connections(10), key=lambda c: c.connection_id) == [
        RoomConnection("a1", 1, "alice"),
        RoomConnection("b1", 2, "bob"),
    ]
    assert registry.room_connections(11) == [RoomConnection("a1", 1, "alice")]
    assert registry.room_connections(12) == []
    assert sorted(registry.room_connection_ids(10)) == ["a1", "b1"]
    assert registry.room_connection_ids(12) == []

    assert registry.unsubscribe("a1", 10) is True
    assert registry.unsubscribe("a1", 10) is False
    assert [c.connection_id for c in registry.room_connections(10)] == ["b1"]
    assert stored_connection(registry, "a1") == a  # leaving a room keeps the connection


def test_expired_items_are_ignored_on_read(dynamodb: Any) -> None:
    """Once the TTL has passed (DynamoDB deletes late), reads treat the items as gone."""
    clock = Clock(1_800_000_000.0)
    registry = ConnectionRegistry(dynamodb, TABLE, item_ttl_seconds=60, clock=clock)
    old = registry.add_connection("old", 1, "alice").record
    registry.subscribe(old, 10)
    clock.now += 30
    fresh = registry.add_connection("fresh", 2, "bob").record
    registry.subscribe(fresh, 10)

    clock.now += 30  # exactly old's expiry: no longer live
    assert stored_connection(registry, "old") is None
    assert stored_connection(registry, "fresh") == fresh
    assert [c.connection_id for c in registry.room_connections(10)] == ["fresh"]
    assert registry.room_connection_ids(10) == ["fresh"]
    assert "old/#conn" in _items(dynamodb, "old")  # still stored: only reads filter it


def test_remove_connection_deletes_everything_and_reports_it(registry: ConnectionRegistry, dynamodb: Any) -> None:
    """remove_connection deletes the connection and all its subscriptions and says whose they were."""
    record = registry.add_connection("a1", 1, "alice").record
    for room in (12, 3, 40):
        registry.subscribe(record, room)
    other = registry.add_connection("b1", 2, "bob").record
    registry.subscribe(other, 3)

    assert registry.remove_connection("a1") == RemovedConnection(
        user_id=1, username="alice", room_ids=[3, 12, 40], last_of_user=True
    )
    assert _items(dynamodb, "a1") == []
    assert [c.connection_id for c in registry.room_connections(3)] == ["b1"]
    assert registry.remove_connection("a1") == RemovedConnection(user_id=None, username=None, room_ids=[])


def test_a_subscription_racing_the_connections_removal_leaves_nothing_behind(
    registry: ConnectionRegistry, dynamodb: Any
) -> None:
    """Subscribing a connection removed a moment before (its item gone) takes its room entries back out, so no
    message posts to it afterwards."""
    record = registry.add_connection("a1", 1, "alice").record
    registry.remove_connection("a1")
    registry.subscribe_rooms(record, {5: 1, 6: 4})
    assert _items(dynamodb, "a1") == []
    assert registry.room_connection_ids(5) == [] and registry.room_connection_ids(6, 4) == []


def test_removing_a_connection_with_many_rooms_deletes_in_batches(registry: ConnectionRegistry, dynamodb: Any) -> None:
    """More than one BatchWriteItem (25 keys) worth of subscriptions is deleted completely."""
    record = registry.add_connection("a1", 1, "alice").record
    for room in range(1, 31):
        registry.subscribe(record, room)
    removed = registry.remove_connection("a1")
    assert removed.room_ids == list(range(1, 31))
    assert _items(dynamodb, "a1") == []


def test_stale_connections_pages_through_every_quiet_connection(dynamodb: Any) -> None:
    """Paging stale_connections returns each connection not seen since the cutoff exactly once."""
    clock = Clock(1_800_000_000.0)
    registry = ConnectionRegistry(dynamodb, TABLE, clock=clock)
    stale = {f"s{i}" for i in range(7)}
    for i, connection_id in enumerate(sorted(stale)):
        registry.subscribe(
            registry.add_connection(connection_id, i, f"user{i}").record, 1
        )  # subscriptions must not count
    clock.now += 600
    for i in range(3):
        registry.add_connection(f"f{i}", 100 + i, "fresh")
    cutoff_ms = int((clock.now - 300) * 1000)

    found: list[str] = []
    start_key = None
    for _page in range(50):
        page, start_key, read = registry.stale_connections(cutoff_ms, max_reads=3, start_key=start_key)
        assert len(page) <= read <= 3
        found.extend(r.connection_id for r in page)
        if start_key is None:
            break
    assert sorted(found) == sorted(stale)
    assert start_key is None


def test_table_definition_declares_the_keys_and_no_index(dynamodb: Any) -> None:
    """The table is keyed by (pk, sk) with TTL on expires_at and has no index: every read is an item or a partition."""
    definition = table_definition("t")
    assert definition["TableName"] == "t"
    assert definition["KeySchema"] == [
        {"AttributeName": "pk", "KeyType": "HASH"},
        {"AttributeName": "sk", "KeyType": "RANGE"},
    ]
    assert "GlobalSecondaryIndexes" not in definition
    described = dynamodb.describe_table(TableName=TABLE)["Table"]
    assert not described.get("GlobalSecondaryIndexes")
    ttl = dynamodb.describe_time_to_live(TableName=TABLE)["TimeToLiveDescription"]
    assert (ttl["TimeToLiveStatus"], ttl["AttributeName"]) == ("ENABLED", TTL_ATTRIBUTE)


def test_items_expire_a_little_after_the_two_hour_connection_limit(registry: ConnectionRegistry) -> None:
    """With the real clock, the TTL lies past API Gateway's 2-hour limit but within the same day."""
    record = registry.add_connection("a1", 1, "alice").record
    assert time.time() + 2 * 3600 < record.expires_at < time.time() + 3 * 3600


@pytest.mark.parametrize(("stubborn_rounds", "raises"), [(2, False), (8, True)], ids=["recovers", "gives-up"])
def test_unprocessed_deletes_are_resent_with_growing_pauses_then_reported(
    dynamodb: Any, stubborn_rounds: int, raises: bool
) -> None:
    """Deletes DynamoDB leaves unprocessed are resent after growing pauses; still left after 8 rounds, it raises."""
    pauses: list[float] = []
    registry = ConnectionRegistry(dynamodb, TABLE, sleep=pauses.append)
    record = registry.add_connection("c1", 1, "alice").record
    registry.subscribe(record, 10)
    real = dynamodb.batch_write_item
    rounds: list[int] = []

    def throttled(**request: Any) -> Any:
        rounds.append(len(request["RequestItems"][TABLE]))
        if len(rounds) <= stubborn_rounds:  # DynamoDB processed nothing this round
            return {"UnprocessedItems": request["RequestItems"]}
        return real(**request)

    dynamodb.batch_write_item = throttled
    if raises:
        with pytest.raises(RegistryUnavailable, match="2 items still unprocessed after 8 rounds"):
            registry.remove_connection("c1")
        assert _items(dynamodb, "c1") == ["c1/#conn", "room#10#0/c1"]  # nothing was deleted, and the caller knows
    else:
        assert registry.remove_connection("c1").room_ids == [10]
        assert _items(dynamodb, "c1") == []
    assert pauses == [0.05 * n for n in range(1, min(stubborn_rounds, 7) + 1)]
    assert pauses == sorted(pauses)


def test_a_users_open_connections_are_one_read_and_capped(registry: ConnectionRegistry) -> None:
    """Every tab of a user is listed from one item; past the cap a new connection is refused with LimitExceeded."""
    for n in range(3):
        registry.add_connection(f"a{n}", 1, "alice", max_per_user=3)
    registry.add_connection("b0", 2, "bob", max_per_user=3)
    assert registry.user_connection_ids(1) == ["a0", "a1", "a2"]
    assert registry.user_connection_ids(2) == ["b0"]
    assert registry.user_connection_ids(3) == []
    with pytest.raises(LimitExceeded):
        registry.add_connection("a3", 1, "alice", max_per_user=3)
    assert stored_connection(registry, "a3") is None
    registry.remove_connection("a0")  # a tab closed: room for another
    registry.add_connection("a3", 1, "alice", max_per_user=3)
    assert registry.user_connection_ids(1) == ["a1", "a2", "a3"]


def test_connections_lost_without_disconnect_do_not_count_against_the_cap(
    registry: ConnectionRegistry, dynamodb: Any
) -> None:
    """A full set whose connections vanished (item gone, no $disconnect) makes room for a new one."""
    for n in range(2):
        registry.add_connection(f"a{n}", 1, "alice", max_per_user=2)
    dynamodb.delete_item(TableName=TABLE, Key={"pk": {"S": "a0"}, "sk": {"S": CONNECTION_SK}})  # lost
    registry.add_connection("a2", 1, "alice", max_per_user=2)
    assert registry.user_connection_ids(1) == ["a1", "a2"]


def test_of_two_tabs_closing_at_once_exactly_one_is_the_last(registry: ConnectionRegistry) -> None:
    """Removals race on the user's one item, so exactly one of two simultaneous closes reports last_of_user."""

    def close(connection_id: str, together: threading.Barrier, results: list[RemovedConnection]) -> None:
        together.wait()
        results.append(registry.remove_connection(connection_id))

    for attempt in range(5):
        ids = [f"t{attempt}-1", f"t{attempt}-2"]
        for connection_id in ids:
            registry.add_connection(connection_id, 7, "tabby")
        together = threading.Barrier(2, timeout=10)
        results: list[RemovedConnection] = []
        threads = [threading.Thread(target=close, args=(c, together, results)) for c in ids]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(10)
        assert sorted(r.last_of_user for r in results) == [False, True], attempt


def test_viewers_are_the_subscriptions_looking_at_the_room(registry: ConnectionRegistry) -> None:
    """view/unview mark a subscription as looking; room_viewers lists only those, room_connections all."""
    a = registry.add_connection("a1", 1, "alice").record
    b = registry.add_connection("b1", 2, "bob").record
    registry.subscribe_rooms(a, {10: 1, 11: 1})
    registry.subscribe_rooms(b, {10: 1})
    assert registry.view("a1", 10) and registry.view("b1", 10)
    assert registry.view("b1", 11) is False  # not subscribed: nothing to mark
    assert sorted(c.connection_id for c in registry.room_viewers(10)) == ["a1", "b1"]
    assert registry.unview("a1", 10) is True and registry.unview("a1", 10) is False
    assert [c.connection_id for c in registry.room_viewers(10)] == ["b1"]
    assert sorted(c.connection_id for c in registry.room_connections(10)) == ["a1", "b1"]


def test_a_users_connections_follow_a_membership(registry: ConnectionRegistry) -> None:
    """subscribe_user/unsubscribe_user reach every open tab of a user; unsubscribe_room empties a room."""
    for tab in ("a1", "a2"):
        registry.add_connection(tab, 1, "alice")
    registry.subscribe_rooms(registry.add_connection("b1", 2, "bob").record, {5: 1})
    assert registry.subscribe_user(1, "alice", 5) == ["a1", "a2"]
    assert sorted(c.connection_id for c in registry.room_connections(5)) == ["a1", "a2", "b1"]
    assert registry.unsubscribe_user(1, 5) == ["a1", "a2"]
    assert [c.connection_id for c in registry.room_connections(5)] == ["b1"]
    assert registry.unsubscribe_room(5) == ["b1"] and registry.room_connections(5) == []
    assert registry.users_connections([1, 2, 3]) == {1: ["a1", "a2"], 2: ["b1"]}


class CountingClient:
    """moto's DynamoDB client, counting the calls made through it by operation."""

    def __init__(self, real: Any) -> None:
        self._real = real
        self.exceptions = real.exceptions
        self.calls: list[str] = []

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._real, name)

        def counted(**kwargs: Any) -> Any:
            self.calls.append(name)
            return method(**kwargs)

        return counted


def test_a_message_to_a_small_room_reads_one_partition_with_one_query(dynamodb: Any) -> None:
    """The broadcast lookup of a one-shard room is one Query call, however many connections it has."""
    counting = CountingClient(dynamodb)
    registry = ConnectionRegistry(counting, TABLE)  # type: ignore[arg-type]
    for n in range(60):
        registry.subscribe_rooms(registry.add_connection(f"c{n}", n, f"user{n}").record, {9: 1})
    counting.calls.clear()
    assert len(registry.room_connection_ids(9)) == 60
    assert counting.calls == ["query"]


def test_a_large_rooms_connections_are_spread_over_its_shards(registry: ConnectionRegistry) -> None:
    """With 8 shards every connection is in exactly one shard, the shards together are the room, and no shard
    holds them all (no hot partition)."""
    ids = [f"conn-{n}" for n in range(200)]
    for n, connection_id in enumerate(ids):
        registry.subscribe_rooms(registry.add_connection(connection_id, n, f"u{n}").record, {7: 8})
    shards = [registry.shard_connection_ids(7, shard) for shard in range(8)]
    assert sorted(c for shard in shards for c in shard) == sorted(ids)
    assert max(len(shard) for shard in shards) < 60 and min(len(shard) for shard in shards) > 0
    assert sorted(registry.room_connection_ids(7, 8)) == sorted(ids)
    assert all(shard_of(c, 8) == k for k, shard in enumerate(shards) for c in shard)


def test_a_connection_subscribed_before_the_room_grew_is_still_found_viewed_and_removed(
    registry: ConnectionRegistry, dynamodb: Any
) -> None:
    """Subscribed while the room had one shard, the connection is still read, can view the room and is removed
    cleanly once the room has 16."""
    old = registry.add_connection("old", 1, "alice").record
    registry.subscribe_rooms(old, {3: 1})
    new = registry.add_connection("new", 2, "bob").record
    registry.subscribe_rooms(new, {3: 16})
    assert sorted(registry.room_connection_ids(3, 16)) == ["new", "old"]
    assert registry.view("old", 3, 16) is True
    assert [c.connection_id for c in registry.room_viewers(3)] == ["old"]
    assert registry.remove_connection("old").room_ids == [3]
    assert _items(dynamodb, "old") == []
    assert registry.room_connection_ids(3, 16) == ["new"] and registry.room_viewers(3) == []


# ---------------------------------------------------------------- what the fan-out workers use


def test_the_posting_budget_is_shared_by_every_caller_within_a_second(dynamodb: Any) -> None:
    """Two workers draw on one counter per second: the second gets what is left, then nobody gets any until
    the next second, which has the whole budget again (never more than ``per_second`` at once)."""
    clock = Clock(1_800_000_000.25)
    first, second = ConnectionRegistry(dynamodb, TABLE, clock=clock), ConnectionRegistry(dynamodb, TABLE, clock=clock)
    assert first.reserve_posts(300, 500) == 300
    assert second.reserve_posts(300, 500) == 200  # the part that is left
    assert first.reserve_posts(1, 500) == 0
    assert second.reserve_posts(1, 500) == 0
    clock.now += 0.5  # the same second
    assert first.reserve_posts(10, 500) == 0
    clock.now += 0.5  # the next one
    assert second.reserve_posts(800, 500) == 500
    assert first.reserve_posts(0, 500) == 0


def test_the_budgets_counters_expire(dynamodb: Any) -> None:
    """Each second's counter carries a TTL two minutes on, so the table does not keep them."""
    registry = ConnectionRegistry(dynamodb, TABLE, clock=Clock(1_800_000_000.0))
    registry.reserve_posts(5, 10)
    item = dynamodb.get_item(TableName=TABLE, Key={"pk": {"S": "#budget"}, "sk": {"S": "1800000000"}})["Item"]
    assert (item["used"]["N"], item[TTL_ATTRIBUTE]["N"]) == ("5", "1800000120")


def test_unsubscribe_shard_empties_only_that_shard_and_shard_zero_takes_the_viewers(
    registry: ConnectionRegistry, dynamodb: Any
) -> None:
    """A deleted room's job for one shard returns and removes that shard's connections; the other shards stay
    until their own jobs, and the job of shard 0 also ends the room's viewing."""
    ids = [f"conn-{n}" for n in range(40)]
    for n, connection_id in enumerate(ids):
        registry.subscribe_rooms(registry.add_connection(connection_id, n, f"u{n}").record, {5: 4})
    viewer = next(c for c in ids if shard_of(c, 4) == 2)
    assert registry.view(viewer, 5, 4) is True
    by_shard = {shard: sorted(c for c in ids if shard_of(c, 4) == shard) for shard in range(4)}

    assert sorted(registry.unsubscribe_shard(5, 2)) == by_shard[2]
    assert registry.shard_connection_ids(5, 2) == []
    assert sorted(registry.room_connection_ids(5, 4)) == sorted(by_shard[0] + by_shard[1] + by_shard[3])
    assert [c.connection_id for c in registry.room_viewers(5)] == [viewer]  # shard 2's job leaves the viewers

    assert sorted(registry.unsubscribe_shard(5, 0)) == by_shard[0]
    assert registry.room_viewers(5) == []
    assert registry.unsubscribe_shard(5, 0) == []  # SQS delivering the job again finds nothing to do


def test_a_shard_bigger_than_one_query_page_is_read_page_by_page(dynamodb: Any) -> None:
    """A shard past DynamoDB's 1 MB page is read with as many Queries as it takes, all of it, expired items left
    out (a worker never reads more than its own shard)."""
    counting = CountingClient(dynamodb)
    registry = ConnectionRegistry(counting, TABLE)  # type: ignore[arg-type]
    padding = "x" * 40_000
    alive = str(int(time.time()) + 3600)
    for n in range(30):
        dynamodb.put_item(
            TableName=TABLE,
            Item={
                "pk": {"S": "room#4#1"},
                "sk": {"S": f"conn-{n:02d}"},
                "user_id": {"N": str(n)},
                "username": {"S": f"u{n}"},
                "padding": {"S": padding},
                TTL_ATTRIBUTE: {"N": alive if n != 7 else "1"},
            },
        )
    dynamodb.put_item(TableName=TABLE, Item={"pk": {"S": "room#4#0"}, "sk": {"S": "elsewhere"}})
    counting.calls.clear()
    assert registry.shard_connection_ids(4, 1) == [f"conn-{n:02d}" for n in range(30) if n != 7]
    assert counting.calls.count("query") >= 2  # 30 items of 40 KB: more than one page
