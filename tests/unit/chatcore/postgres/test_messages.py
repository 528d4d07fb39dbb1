"""Messages in PostgreSQL: idempotent saves, history pages and read markers."""

from __future__ import annotations

from collections.abc import Callable

from chatcore.postgres.store import ChatStore
from chatcore.rows import MessageRow, UserRow


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
