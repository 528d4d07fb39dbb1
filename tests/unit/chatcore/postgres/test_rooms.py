"""Rooms in PostgreSQL: groups, members, roles, direct chats and unread counts."""

from __future__ import annotations

import threading
from collections.abc import Callable

import psycopg
from chatcore.postgres.database import Database
from chatcore.postgres.store import ChatStore
from chatcore.rows import RoomRow, UserRow
from chatcore.rules import direct_key

from tests.unit.chatcore.postgres.conftest import HASH


def test_group_creator_is_owner_and_members_join_as_members(store: ChatStore, user: Callable[..., UserRow]) -> None:
    """create_group makes its creator the owner; add_member adds once; remove_member removes."""
    alice, bob = user("alice"), user("bob")
    group = store.create_group("general", private=False, created_by=alice.id)
    assert (group.name, group.private, group.kind, group.created_by) == ("general", False, "group", alice.id)
    assert store.room_and_role(group.id, alice.id) == (group, "owner")
    assert group.member_count == 1
    assert store.room_and_role(group.id, bob.id)[1] is None

    assert store.add_member(group.id, bob.id) is True
    assert store.add_member(group.id, bob.id) is False
    assert store.room_and_role(group.id, bob.id) == (group._replace(member_count=2), "member")
    members = store.list_members(group.id)
    assert [(m.username, m.role, m.last_read_message_id) for m in members] == [
        ("alice", "owner", 0),
        ("bob", "member", 0),
    ]

    assert store.remove_member(group.id, bob.id) is True
    assert store.remove_member(group.id, bob.id) is False
    assert store.room_and_role(group.id, bob.id) == (group, None)
    assert store.room_and_role(group.id + 1000, bob.id) == (None, None)


def test_list_groups_shows_public_and_my_private_groups_with_counts(
    store: ChatStore, user: Callable[..., UserRow]
) -> None:
    """Public groups and the caller's private ones are listed with member count and role; no direct chats."""
    alice, bob, carol = user("alice"), user("bob"), user("carol")
    public = store.create_group("b-public", private=False, created_by=alice.id)
    store.add_member(public.id, carol.id)
    mine = store.create_group("c-mine", private=True, created_by=bob.id)
    hidden = store.create_group("a-hidden", private=True, created_by=alice.id)
    store.get_or_create_direct(bob.id, carol.id)

    listed = store.groups_page(bob.id)[0]
    assert [(g.name, g.private, g.member_count, g.role) for g in listed] == [
        ("b-public", False, 2, None),
        ("c-mine", True, 1, "owner"),
    ]
    assert hidden.id not in {g.id for g in listed}
    assert all(g.kind == "group" for g in listed)
    assert {g.id for g in store.groups_page(alice.id)[0]} == {public.id, hidden.id}
    assert mine.id not in {g.id for g in store.groups_page(carol.id)[0]}


def test_unread_counts_others_messages_after_the_read_marker(store: ChatStore, user: Callable[..., UserRow]) -> None:
    """Unread counts the others' messages after my marker, never my own; non-members see 0."""
    alice, bob, carol = user("alice"), user("bob"), user("carol")
    group = store.create_group("general", private=False, created_by=alice.id)
    store.add_member(group.id, bob.id)
    first = store.save_message(group.id, bob.id, "one", None).message
    store.save_message(group.id, bob.id, "two", None)
    store.save_message(group.id, alice.id, "mine", None)

    def unread(user_id: int) -> int:
        return next(g.unread for g in store.groups_page(user_id)[0] if g.id == group.id)

    assert unread(alice.id) == 2
    assert unread(bob.id) == 1
    assert unread(carol.id) == 0  # not a member
    store.mark_read(group.id, alice.id, first.id)
    assert unread(alice.id) == 1


def test_direct_room_is_the_same_for_both_orders(store: ChatStore, user: Callable[..., UserRow]) -> None:
    """get_or_create_direct gives one private room per pair, whichever user asks, with both as members."""
    alice, bob, carol = user("alice"), user("bob"), user("carol")
    room = store.get_or_create_direct(alice.id, bob.id)
    assert store.get_or_create_direct(bob.id, alice.id) == room
    assert store.get_or_create_direct(alice.id, bob.id) == room
    assert (room.kind, room.private) == ("direct", True)
    assert [m.username for m in store.list_members(room.id)] == ["alice", "bob"]
    assert store.get_or_create_direct(alice.id, carol.id).id != room.id
    assert direct_key(bob.id, alice.id) == direct_key(alice.id, bob.id) == f"{alice.id}:{bob.id}"


def test_concurrent_direct_room_creation_yields_one_room(database_url: str) -> None:
    """Two containers creating the same pair's room at the same moment both get the one room."""
    stores = [ChatStore(Database(database_url)) for _ in range(2)]
    users = [stores[0].create_user(f"user{i}", HASH) for i in range(8)]
    pairs = [(users[i].id, users[i + 1].id) for i in range(0, 8, 2)]
    results: dict[int, list[RoomRow]] = {0: [], 1: []}
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)

    def worker(index: int) -> None:
        try:
            for a, b in pairs:
                barrier.wait(5)
                first, second = (a, b) if index == 0 else (b, a)
                results[index].append(stores[index].get_or_create_direct(first, second))
        except BaseException as exc:  # reported below; a thread's failure must fail the test
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == []
    assert [r.id for r in results[0]] == [r.id for r in results[1]]
    for (a, b), room in zip(pairs, results[0], strict=True):
        assert {m.id for m in stores[0].list_members(room.id)} == {a, b}
    with psycopg.connect(database_url) as conn:
        assert conn.execute("SELECT count(*) FROM rooms WHERE kind = 'direct'").fetchone() == (4,)


def test_list_direct_shows_the_other_side_and_unread(store: ChatStore, user: Callable[..., UserRow]) -> None:
    """Each side sees the other user, unread counts of the other's messages, newest chat first."""
    alice, bob, carol = user("alice", nickname="Al"), user("bob"), user("carol")
    with_bob = store.get_or_create_direct(alice.id, bob.id)
    with_carol = store.get_or_create_direct(carol.id, alice.id)
    store.save_message(with_carol.id, carol.id, "hi alice", None)
    store.save_message(with_bob.id, bob.id, "hey", None)
    last = store.save_message(with_bob.id, alice.id, "yo", None).message

    mine = store.direct_page(alice.id)[0]
    assert [(d.id, d.other_username, d.unread) for d in mine] == [(with_bob.id, "bob", 1), (with_carol.id, "carol", 1)]
    assert mine[0].last_message_id == last.id
    bobs = store.direct_page(bob.id)[0]
    assert [(d.other_id, d.other_nickname, d.unread) for d in bobs] == [(alice.id, "Al", 1)]
    assert store.groups_page(alice.id)[0] == []  # direct chats are not groups


def test_unread_counts_stop_at_one_hundred(store: ChatStore) -> None:
    """A reader far behind sees 100 unread, not a count that costs a scan of the whole backlog."""
    alice = store.create_user("alice_cap", "x")
    bob = store.create_user("bob_cap", "x")
    group = store.create_group("busy", private=False, created_by=alice.id)
    store.add_member(group.id, bob.id)
    with store._db.connection() as conn:
        conn.execute(
            "INSERT INTO messages (room_id, user_id, content) SELECT %s, %s, 'm' FROM generate_series(1, 105)",
            (group.id, alice.id),
        )
    assert next(g.unread for g in store.groups_page(bob.id)[0] if g.id == group.id) == 100
    direct = store.get_or_create_direct(alice.id, bob.id)
    for n in range(3):
        store.save_message(direct.id, alice.id, f"d{n}", None)
    assert [d.unread for d in store.direct_page(bob.id)[0]] == [3]


def test_member_count_follows_memberships_and_shards_only_grow(store: ChatStore, user: Callable[..., UserRow]) -> None:
    """The trigger counts members; past 2,000 the room gets a second registry shard, which it keeps when
    members leave (readers must still read the shard connections were written to)."""
    owner = user("owner")
    group = store.create_group("big", private=False, created_by=owner.id)
    store._db.execute(
        "INSERT INTO users (username, password_hash) SELECT 'm' || n, %s FROM generate_series(1, 2000) n", (HASH,)
    )
    store._db.execute(
        "INSERT INTO room_members (user_id, room_id) SELECT id, %s FROM users WHERE username LIKE 'm%%'", (group.id,)
    )
    grown, _role = store.room_and_role(group.id, owner.id)
    assert grown is not None and (grown.member_count, grown.shards) == (2001, 2)
    store._db.execute("DELETE FROM room_members WHERE room_id = %s AND user_id <> %s", (group.id, owner.id))
    shrunk, _role = store.room_and_role(group.id, owner.id)
    assert shrunk is not None and (shrunk.member_count, shrunk.shards) == (1, 2)
    assert store.member_rooms(owner.id, limit=10) == {group.id: 2}
