"""Rooms over real PostgreSQL (and moto's DynamoDB for live subscriptions): direct chats and membership."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from chatcore.aws.registry import ConnectionRegistry
from chatcore.passwords import hash_password
from chatcore.postgres.database import Database
from chatcore.postgres.store import ChatStore
from chatcore.service.rooms import RegistrySubscriptions, RoomService
from chatcore.tokens import Identity


def _user(store: ChatStore, name: str) -> Identity:
    return Identity(store.create_user(name, hash_password("pw-for-tests")).id, name)


def test_direct_chat_is_created_once_when_both_sides_ask_at_the_same_time(store: ChatStore, database_url: str) -> None:
    """Simultaneous requests from both users (separate connections) all get one room with both members."""
    alice, bob = _user(store, "alice"), _user(store, "bob")
    databases = [Database(database_url) for _ in range(6)]
    barrier = threading.Barrier(len(databases))

    def open_from(index: int) -> int:
        rooms = RoomService(ChatStore(databases[index]))
        me, other = (alice, "bob") if index % 2 == 0 else (bob, "alice")
        barrier.wait()
        return rooms.open_direct(me, other).room.id

    try:
        with ThreadPoolExecutor(len(databases)) as pool:
            room_ids = set(pool.map(open_from, range(len(databases))))
    finally:
        for db in databases:
            db.close()

    assert len(room_ids) == 1
    room_id = room_ids.pop()
    assert [(m.username, m.role) for m in store.list_members(room_id)] == [("alice", "member"), ("bob", "member")]
    assert [d.id for d in store.direct_page(alice.user_id)[0]] == [room_id]


@pytest.fixture
def room_with_live_members(
    store: ChatStore, registry: ConnectionRegistry
) -> tuple[RoomService, int, dict[str, Identity]]:
    """A private group of alice (owner), bob and carol; bob has two tabs and carol one, all subscribed."""
    people = {name: _user(store, name) for name in ("alice", "bob", "carol")}
    group = store.create_group("team", private=True, created_by=people["alice"].user_id)
    for name in ("bob", "carol"):
        store.add_member(group.id, people[name].user_id)
    for connection_id, name in (("bob-1", "bob"), ("bob-2", "bob"), ("carol-1", "carol")):
        record = registry.add_connection(connection_id, people[name].user_id, name)
        registry.subscribe(record, group.id)
    return RoomService(store, RegistrySubscriptions(lambda: registry)), group.id, people


def test_removed_member_stops_receiving_the_room_at_once(
    room_with_live_members: tuple[RoomService, int, dict[str, Identity]], registry: ConnectionRegistry
) -> None:
    """When the owner removes bob, every tab of bob leaves the room's subscribers; carol stays."""
    rooms, group_id, people = room_with_live_members

    rooms.remove_member(people["alice"], group_id, "bob")

    assert sorted(c.connection_id for c in registry.room_connections(group_id)) == ["carol-1"]


def test_leaving_ends_the_leavers_subscriptions(
    room_with_live_members: tuple[RoomService, int, dict[str, Identity]], registry: ConnectionRegistry
) -> None:
    """A member who leaves over REST stops receiving the room on his open WebSockets too."""
    rooms, group_id, people = room_with_live_members

    rooms.remove_member(people["carol"], group_id, "carol")

    assert sorted(c.connection_id for c in registry.room_connections(group_id)) == ["bob-1", "bob-2"]


def test_removal_stands_when_subscriptions_cannot_be_reached(store: ChatStore) -> None:
    """If DynamoDB fails while dropping subscriptions, the membership is still removed (and logged)."""

    class Unreachable:
        def drop(self, room_id: int, user_id: int) -> None:
            raise ConnectionError("dynamodb unreachable")

    alice, bob = _user(store, "alice"), _user(store, "bob")
    group = store.create_group("team", private=True, created_by=alice.user_id)
    store.add_member(group.id, bob.user_id)

    RoomService(store, Unreachable()).remove_member(alice, group.id, "bob")

    assert store.room_and_role(group.id, bob.user_id)[1] is None
