"""The PostgreSQL store against a real embedded PostgreSQL (one fresh migrated database per test)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable

import psycopg
import pytest
from chatcore.errors import Conflict, StoreUnavailable
from chatcore.postgres.database import Database
from chatcore.postgres.store import ChatStore
from chatcore.rows import MessageRow, RoomRow, UserRow
from chatcore.rules import direct_key

HASH = "scrypt$16384$8$1$c2FsdA==$a2V5"  # the store keeps it opaque; real hashing is tested in test_auth


@pytest.fixture
def user(store: ChatStore) -> Callable[..., UserRow]:
    def make(username: str, nickname: str | None = None) -> UserRow:
        return store.create_user(username, HASH, nickname=nickname)

    return make


def _closed_port_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"postgresql://postgres@127.0.0.1:{port}/nothing"


# ---------------------------------------------------------------- users


def test_user_is_created_and_read_back(store: ChatStore) -> None:
    """A new user is readable by id and username, and its credentials carry the stored hash."""
    created = store.create_user("alice", HASH, email="a@example.com", nickname="Al")
    assert store.get_user(created.id) == created
    assert store.get_user_by_username("alice") == created
    assert (created.username, created.email, created.nickname, created.avatar) == ("alice", "a@example.com", "Al", None)
    credentials = store.get_credentials("alice")
    assert credentials is not None and (credentials.id, credentials.password_hash) == (created.id, HASH)
    assert store.get_user(created.id + 1000) is None
    assert store.get_credentials("nobody") is None


def test_duplicate_username_is_a_conflict(store: ChatStore, user: Callable[..., UserRow]) -> None:
    """A taken username raises Conflict and leaves the first user untouched; the store stays usable."""
    first = user("alice")
    with pytest.raises(Conflict):
        store.create_user("alice", "other-hash")
    assert store.get_credentials("alice").password_hash == HASH  # type: ignore[union-attr]
    assert store.get_user(first.id) == first
    assert user("bob").username == "bob"


def test_profile_update_changes_only_allowed_columns(store: ChatStore, user: Callable[..., UserRow]) -> None:
    """nickname/avatar/email change; any other column is refused before touching the database."""
    alice = user("alice")
    updated = store.update_profile(alice.id, {"nickname": "Ali", "avatar": "https://x/a.png"})
    assert (updated.nickname, updated.avatar, updated.username) == ("Ali", "https://x/a.png", "alice")
    with pytest.raises(ValueError, match="username"):
        store.update_profile(alice.id, {"username": "root"})
    assert store.get_user(alice.id).username == "alice"  # type: ignore[union-attr]


# ---------------------------------------------------------------- groups, members, roles


def test_group_creator_is_owner_and_members_join_as_members(store: ChatStore, user: Callable[..., UserRow]) -> None:
    """create_group makes its creator the owner; add_member adds once; remove_member removes."""
    alice, bob = user("alice"), user("bob")
    group = store.create_group("general", private=False, created_by=alice.id)
    assert (group.name, group.private, group.kind, group.created_by) == ("general", False, "group", alice.id)
    assert store.room_and_role(group.id, alice.id) == (group, "owner")
    assert store.room_and_role(group.id, bob.id)[1] is None

    assert store.add_member(group.id, bob.id) is True
    assert store.add_member(group.id, bob.id) is False
    assert store.room_and_role(group.id, bob.id) == (group, "member")
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

    listed = store.list_groups(bob.id)
    assert [(g.name, g.private, g.member_count, g.role) for g in listed] == [
        ("b-public", False, 2, None),
        ("c-mine", True, 1, "owner"),
    ]
    assert hidden.id not in {g.id for g in listed}
    assert all(g.kind == "group" for g in listed)
    assert {g.id for g in store.list_groups(alice.id)} == {public.id, hidden.id}
    assert mine.id not in {g.id for g in store.list_groups(carol.id)}


def test_unread_counts_others_messages_after_the_read_marker(store: ChatStore, user: Callable[..., UserRow]) -> None:
    """Unread counts the others' messages after my marker, never my own; non-members see 0."""
    alice, bob, carol = user("alice"), user("bob"), user("carol")
    group = store.create_group("general", private=False, created_by=alice.id)
    store.add_member(group.id, bob.id)
    first = store.save_message(group.id, bob.id, "one", None).message
    store.save_message(group.id, bob.id, "two", None)
    store.save_message(group.id, alice.id, "mine", None)

    def unread(user_id: int) -> int:
        return next(g.unread for g in store.list_groups(user_id) if g.id == group.id)

    assert unread(alice.id) == 2
    assert unread(bob.id) == 1
    assert unread(carol.id) == 0  # not a member
    store.mark_read(group.id, alice.id, first.id)
    assert unread(alice.id) == 1


# ---------------------------------------------------------------- messages


def test_retry_with_the_same_client_msg_id_is_stored_once(store: ChatStore, user: Callable[..., UserRow]) -> None:
    """A second save with the same (user, clientMsgId) returns the stored message and adds no row."""
    alice = user("alice")
    group = store.create_group("general", private=False, created_by=alice.id)
    first = store.save_message(group.id, alice.id, "hello", "m-1")
    again = store.save_message(group.id, alice.id, "hello (retry)", "m-1")
    assert first.created is True and again.created is False
    assert again.message == first.message
    assert again.message.content == "hello"
    page, _ = store.latest_messages(group.id, 10)
    assert [m.id for m in page] == [first.message.id]


def test_client_msg_id_is_per_user_and_absent_ids_never_collide(store: ChatStore, user: Callable[..., UserRow]) -> None:
    """Two users may reuse one clientMsgId, and messages without one are all stored."""
    alice, bob = user("alice"), user("bob")
    group = store.create_group("general", private=False, created_by=alice.id)
    store.add_member(group.id, bob.id)
    a = store.save_message(group.id, alice.id, "a", "same")
    b = store.save_message(group.id, bob.id, "b", "same")
    n1 = store.save_message(group.id, alice.id, "same text", None)
    n2 = store.save_message(group.id, alice.id, "same text", None)
    assert all(s.created for s in (a, b, n1, n2))
    assert len({a.message.id, b.message.id, n1.message.id, n2.message.id}) == 4
    saved = a.message
    assert (saved.room_id, saved.user_id, saved.username, saved.client_msg_id) == (group.id, alice.id, "alice", "same")
    assert saved.ts == int(saved.created_at.timestamp() * 1000)


def test_history_pages_latest_before_and_after(store: ChatStore, user: Callable[..., UserRow]) -> None:
    """Pages come oldest first with hasMore telling whether more exist beyond the page."""
    alice = user("alice")
    group = store.create_group("general", private=False, created_by=alice.id)
    other = store.create_group("other", private=False, created_by=alice.id)
    ids = [store.save_message(group.id, alice.id, f"m{i}", None).message.id for i in range(7)]
    store.save_message(other.id, alice.id, "elsewhere", None)

    def texts(page: list[MessageRow]) -> list[str]:
        return [m.content for m in page]

    page, more = store.latest_messages(group.id, 3)
    assert (texts(page), more) == (["m4", "m5", "m6"], True)
    page, more = store.latest_messages(group.id, 7)
    assert (texts(page), more) == (["m0", "m1", "m2", "m3", "m4", "m5", "m6"], False)
    page, more = store.messages_before(group.id, ids[4], 3)
    assert (texts(page), more) == (["m1", "m2", "m3"], True)
    page, more = store.messages_before(group.id, ids[3], 3)
    assert (texts(page), more) == (["m0", "m1", "m2"], False)
    page, more = store.messages_after(group.id, ids[4], 10)
    assert (texts(page), more) == (["m5", "m6"], False)
    page, more = store.messages_after(group.id, ids[0], 2)  # catch-up too long: the newest, flagged
    assert (texts(page), more) == (["m5", "m6"], True)
    page, more = store.messages_after(group.id, ids[6], 10)
    assert (page, more) == ([], False)
    assert store.latest_messages(other.id + 1000, 5) == ([], False)


def test_mark_read_never_moves_back_and_is_clamped(store: ChatStore, user: Callable[..., UserRow]) -> None:
    """The read marker only moves forward, never past the room's newest message; non-members get None."""
    alice, bob = user("alice"), user("bob")
    group = store.create_group("general", private=False, created_by=alice.id)
    ids = [store.save_message(group.id, alice.id, f"m{i}", None).message.id for i in range(3)]
    assert store.mark_read(group.id, alice.id, ids[1]) == ids[1]
    assert store.mark_read(group.id, alice.id, ids[0]) == ids[1]
    assert store.mark_read(group.id, alice.id, 10**15) == ids[2]
    assert store.mark_read(group.id, bob.id, ids[2]) is None
    assert [m.last_read_message_id for m in store.list_members(group.id)] == [ids[2]]


# ---------------------------------------------------------------- direct chats


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

    mine = store.list_direct(alice.id)
    assert [(d.id, d.other_username, d.unread) for d in mine] == [(with_bob.id, "bob", 1), (with_carol.id, "carol", 1)]
    assert mine[0].last_message_id == last.id
    bobs = store.list_direct(bob.id)
    assert [(d.other_id, d.other_nickname, d.unread) for d in bobs] == [(alice.id, "Al", 1)]
    assert store.list_groups(alice.id) == []  # direct chats are not groups


# ---------------------------------------------------------------- tags and nicknames


def test_tags_add_once_list_remove_and_rank(store: ChatStore, user: Callable[..., UserRow]) -> None:
    """A tag is added once per user, listed sorted, removable, and ranked by how many users have it."""
    alice, bob = user("alice"), user("bob")
    assert store.add_tag(alice.id, "rust") is True
    assert store.add_tag(alice.id, "rust") is False
    store.add_tag(alice.id, "go")
    store.add_tag(bob.id, "rust")
    assert store.list_tags(alice.id) == ["go", "rust"]
    assert [(t.tag_name, t.count) for t in store.top_tags(10)] == [("rust", 2), ("go", 1)]
    assert [t.tag_name for t in store.top_tags(1)] == ["rust"]
    assert store.remove_tag(alice.id, "go") is True
    assert store.remove_tag(alice.id, "go") is False
    assert store.list_tags(alice.id) == ["rust"]


def test_nickname_search_is_a_case_insensitive_prefix(store: ChatStore, user: Callable[..., UserRow]) -> None:
    """Usernames or nicknames starting with the prefix match, in any case, sorted, paged, minus the caller."""
    alice = user("alice", nickname="Wonder")
    user("Alfred")
    user("bob", nickname="ALbert")
    user("malice")

    def search(prefix: str, limit: int = 10, offset: int = 0, exclude_user: int | None = None) -> list[str]:
        rows = store.search_people(prefix, limit=limit, offset=offset, exclude_user=exclude_user)
        return [r.username for r in rows]

    assert search("al") == ["Alfred", "alice", "bob"]
    assert search("AL") == ["Alfred", "alice", "bob"]
    assert search("won") == ["alice"]
    assert search("al", limit=1, offset=1) == ["alice"]
    assert search("al", exclude_user=alice.id) == ["Alfred", "bob"]
    assert search("lice") == []


def test_like_wildcards_in_the_prefix_are_literal(store: ChatStore, user: Callable[..., UserRow]) -> None:
    """``%``, ``_`` and ``\\`` in the prefix match only themselves, never as LIKE wildcards."""
    for name in ("a_b", "axb", "100%", "1000", "back\\slash", "backxslash", "%admin"):
        user(name)

    def search(prefix: str) -> list[str]:
        return [r.username for r in store.search_people(prefix, limit=10, offset=0)]

    assert search("a_") == ["a_b"]
    assert search("100%") == ["100%"]
    assert search("back\\") == ["back\\slash"]
    assert search("%") == ["%admin"]
    assert search("_") == []


# ---------------------------------------------------------------- hostile input and availability


HOSTILE = [
    "'; DROP TABLE users; --",
    "Robert'); DELETE FROM messages; --",
    "%s %(u)s {0} $1 ? :name",
    '"quoted" \\ backslash \\\' mixed',
    "<script>alert(1)</script>",
    "emoji 👩‍💻 RTL \u202e text \u200b zero-width",
    "line\nbreak\ttab\r",
]


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_strings_round_trip_unchanged(store: ChatStore, text: str) -> None:
    """SQL metacharacters and odd Unicode are stored and read back byte for byte, and harm nothing."""
    member = store.create_user(text, HASH, nickname=text, email=text)
    assert store.get_user_by_username(text) == member
    group = store.create_group(text, private=False, created_by=member.id)
    saved = store.save_message(group.id, member.id, text, text[:64]).message
    assert (saved.content, saved.client_msg_id, saved.username) == (text, text[:64], text)
    assert store.save_message(group.id, member.id, "retry", text[:64]).created is False
    assert store.latest_messages(group.id, 5)[0] == [saved]
    assert store.add_tag(member.id, text) and store.list_tags(member.id) == [text]
    assert store.update_profile(member.id, {"nickname": text, "avatar": text}).avatar == text
    assert [g.name for g in store.list_groups(member.id)] == [text]
    assert [r.id for r in store.search_people(text, limit=5, offset=0)] == [member.id]


def test_unreachable_database_raises_store_unavailable_then_recovers(database_url: str) -> None:
    """While PostgreSQL cannot be reached calls raise StoreUnavailable; once it answers, they work again."""
    target = {"url": _closed_port_url()}
    asked: list[str] = []

    def conninfo() -> str:
        asked.append(target["url"])
        return target["url"]

    db = Database(conninfo, connect_timeout=2)
    store = ChatStore(db)
    assert asked == []  # nothing is opened at construction
    with pytest.raises(StoreUnavailable):
        store.get_user(1)
    with pytest.raises(StoreUnavailable):
        store.create_user("alice", HASH)

    target["url"] = database_url
    created = store.create_user("alice", HASH)
    assert store.get_user(created.id) == created
    db.close()


def test_a_connection_the_server_dropped_is_replaced_without_a_failed_call(database_url: str) -> None:
    """A connection the server closed while idle costs a reconnect and a retry, not a failed call."""
    db = Database(database_url)
    store = ChatStore(db)
    alice = store.create_user("alice", HASH)
    with db.connection() as conn:
        pid = conn.info.backend_pid
    with psycopg.connect(database_url, autocommit=True) as admin:
        assert admin.execute("SELECT pg_terminate_backend(%s)", (pid,)).fetchone() == (True,)

    assert store.get_user(alice.id) == alice  # retried once on a fresh connection
    with db.connection() as conn:
        assert conn.info.backend_pid != pid
    db.close()


def test_a_write_without_an_idempotency_key_is_not_retried(database_url: str) -> None:
    """A message without a clientMsgId on a stale connection fails (StoreUnavailable) rather than risk a double."""
    db = Database(database_url)
    store = ChatStore(db)
    alice = store.create_user("alice", HASH)
    room = store.create_group("general", private=False, created_by=alice.id)
    with db.connection() as conn:
        pid = conn.info.backend_pid
    with psycopg.connect(database_url, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))

    with pytest.raises(StoreUnavailable):
        store.save_message(room.id, alice.id, "once", None)
    saved = store.save_message(room.id, alice.id, "keyed", "c-1")  # a fresh connection now
    assert [m.content for m in store.latest_messages(room.id, 10)[0]] == [saved.message.content]
    db.close()


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
    assert next(g.unread for g in store.list_groups(bob.id) if g.id == group.id) == 100
    direct = store.get_or_create_direct(alice.id, bob.id)
    for n in range(3):
        store.save_message(direct.id, alice.id, f"d{n}", None)
    assert [d.unread for d in store.list_direct(bob.id)] == [3]
