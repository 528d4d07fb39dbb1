"""Rooms over real PostgreSQL (and moto's DynamoDB for live subscriptions): direct chats and membership."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any, cast

import pytest
from chatcore.aws.broadcaster import Broadcaster
from chatcore.aws.registry import ConnectionRegistry
from chatcore.errors import Conflict, Forbidden
from chatcore.passwords import hash_password
from chatcore.postgres.database import Database
from chatcore.postgres.store import ChatStore
from chatcore.service.fanout import Fanout
from chatcore.service.live import LiveUpdates
from chatcore.service.rooms import RoomService
from chatcore.tokens import Identity

from tests.conftest import ManagementFake, delivered


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


class Live:
    """A private group of alice (owner), bob and carol; bob has two tabs and carol one, all subscribed."""

    def __init__(self, store: ChatStore, registry: ConnectionRegistry, management: ManagementFake) -> None:
        self.store, self.registry = store, registry
        self.people = {name: _user(store, name) for name in ("alice", "bob", "carol", "dave")}
        self.group = store.create_group("team", private=True, created_by=self.people["alice"].user_id).id
        for name in ("bob", "carol"):
            store.add_member(self.group, self.people[name].user_id)
        for connection_id, name in (("bob-1", "bob"), ("bob-2", "bob"), ("carol-1", "carol"), ("dave-1", "dave")):
            record = registry.add_connection(connection_id, self.people[name].user_id, name).record
            if name != "dave":
                registry.subscribe(record, self.group)
        fanout = Fanout(registry, Broadcaster(cast(Any, management)))
        self.rooms = RoomService(store, lambda: LiveUpdates(registry, fanout))

    def listening(self) -> list[str]:
        return sorted(c.connection_id for c in self.registry.room_connections(self.group))


@pytest.fixture
def live(store: ChatStore, registry: ConnectionRegistry, management: ManagementFake) -> Live:
    return Live(store, registry, management)


def _frames(connection_id: str, kind: str) -> list[dict[str, Any]]:
    return [f for f in delivered(connection_id) if f["type"] == kind]


def test_removed_member_stops_receiving_the_room_at_once(live: Live) -> None:
    """When the owner removes bob, every tab of bob leaves the room and is told; carol stays and hears it."""
    live.rooms.remove_member(live.people["alice"], live.group, "bob")

    assert live.listening() == ["carol-1"]
    for tab in ("bob-1", "bob-2"):
        assert _frames(tab, "room_removed") == [{"type": "room_removed", "roomId": live.group, "reason": "removed"}]
    assert _frames("carol-1", "member_left") == [{"type": "member_left", "roomId": live.group, "user": "bob"}]
    assert live.store.is_banned(live.group, live.people["bob"].user_id)


def test_leaving_ends_the_leavers_subscriptions(live: Live) -> None:
    """A member who leaves over REST stops receiving the room on her open WebSockets too, told "left"."""
    live.rooms.remove_member(live.people["carol"], live.group, "carol")

    assert live.listening() == ["bob-1", "bob-2"]
    assert _frames("carol-1", "room_removed") == [{"type": "room_removed", "roomId": live.group, "reason": "left"}]
    assert not live.store.is_banned(live.group, live.people["carol"].user_id)


def test_an_added_member_hears_the_room_at_once(live: Live) -> None:
    """dave's open tab is subscribed when the owner adds him, and gets room_added with the room."""
    live.rooms.add_member(live.people["alice"], live.group, "dave")

    assert live.listening() == ["bob-1", "bob-2", "carol-1", "dave-1"]
    added = _frames("dave-1", "room_added")
    assert [(f["roomId"], f["room"]["name"]) for f in added] == [(live.group, "team")]
    assert _frames("bob-1", "member_joined") == [{"type": "member_joined", "roomId": live.group, "user": "dave"}]


def test_renaming_and_deleting_reach_every_members_page(live: Live) -> None:
    """The owner's rename arrives as room_updated; the deletion as room_removed (deleted), ending subscriptions."""
    live.rooms.update_group(live.people["alice"], live.group, name="crew", description="the core team")
    updated = _frames("carol-1", "room_updated")
    assert [(f["room"]["name"], f["room"]["description"]) for f in updated] == [("crew", "the core team")]

    live.rooms.delete_group(live.people["alice"], live.group)
    assert live.listening() == []
    assert _frames("bob-2", "room_removed") == [{"type": "room_removed", "roomId": live.group, "reason": "deleted"}]
    assert live.store.room_and_role(live.group, live.people["bob"].user_id) == (None, None)


def test_only_the_owner_renames_deletes_or_hands_over(live: Live) -> None:
    """A member gets Forbidden for owner actions; handing over makes bob the owner and alice a member."""
    bob, alice = live.people["bob"], live.people["alice"]
    for action in (
        lambda: live.rooms.update_group(bob, live.group, name="mine", description=None),
        lambda: live.rooms.delete_group(bob, live.group),
        lambda: live.rooms.hand_over(bob, live.group, "carol"),
    ):
        with pytest.raises(Forbidden):
            action()
    with pytest.raises(Conflict):
        live.rooms.hand_over(alice, live.group, "dave")  # not a member
    live.rooms.hand_over(alice, live.group, "bob")
    assert live.store.room_and_role(live.group, bob.user_id)[1] == "owner"
    assert live.store.room_and_role(live.group, alice.user_id)[1] == "member"
    live.rooms.remove_member(alice, live.group, "alice")  # the former owner may now leave
    assert live.store.room_and_role(live.group, alice.user_id)[1] is None


def test_removal_stands_when_live_updates_cannot_be_reached(store: ChatStore) -> None:
    """If the registry cannot be reached, the membership is still removed (and the failure logged)."""

    def unreachable() -> LiveUpdates:
        raise ConnectionError("dynamodb unreachable")

    alice, bob = _user(store, "alice"), _user(store, "bob")
    group = store.create_group("team", private=True, created_by=alice.user_id)
    store.add_member(group.id, bob.user_id)

    RoomService(store, unreachable).remove_member(alice, group.id, "bob")

    assert store.room_and_role(group.id, bob.user_id)[1] is None
