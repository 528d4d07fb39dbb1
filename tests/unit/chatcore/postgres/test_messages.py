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


# ---------------------------------------------------------------- edits, deletions, reactions, replies, mentions


def _room(store: ChatStore, user: Callable[..., UserRow]) -> tuple[UserRow, UserRow, int]:
    alice, bob = user("alice"), user("bob")
    group = store.create_group("general", private=False, created_by=alice.id)
    store.add_member(group.id, bob.id)
    return alice, bob, group.id


def test_an_edit_replaces_text_and_mentions_under_a_new_revision(
    store: ChatStore, user: Callable[..., UserRow]
) -> None:
    """Editing stores the new text, marks the time, takes a higher rev and swaps the mentions."""
    alice, bob, room = _room(store, user)
    saved = store.save_message(room, alice.id, "hi @bob", None, mention_ids=[bob.id]).message
    assert saved.mentions == ["bob"] and saved.edited_at is None

    edited = store.edit_message(room, saved.id, "hi @alice", [alice.id])

    assert edited is not None
    assert (edited.content, edited.mentions) == ("hi @alice", ["alice"])
    assert edited.edited_at is not None and edited.rev > saved.rev
    assert store.edit_message(room + 1, saved.id, "elsewhere", []) is None


def test_a_deleted_message_keeps_its_place_but_its_text_is_gone_from_the_table(
    store: ChatStore, user: Callable[..., UserRow]
) -> None:
    """Deleting empties the row's text (queried straight from PostgreSQL), drops mentions and reactions, and
    keeps the id in history; a second delete finds nothing."""
    alice, bob, room = _room(store, user)
    before = store.save_message(room, alice.id, "before", None).message
    secret = store.save_message(room, alice.id, "the secret plan @bob", None, mention_ids=[bob.id]).message
    store.toggle_reaction(room, secret.id, bob.id, "👍")

    deleted = store.delete_message(room, secret.id)

    assert deleted is not None
    tombstone, files = deleted
    assert (tombstone.content, tombstone.mentions, tombstone.reactions, files) == ("", [], [], [])
    assert tombstone.deleted_at is not None and tombstone.rev > secret.rev
    rows = store._db.values("SELECT content, search::text FROM messages WHERE id = %s", (secret.id,))
    assert rows == [("", "")]
    leftovers = store._db.values("SELECT count(*) FROM messages WHERE content LIKE %s", ("%secret plan%",))
    assert leftovers == [(0,)]
    page, _ = store.latest_messages(room, 10)
    assert [m.id for m in page] == [before.id, secret.id]
    assert store.delete_message(room, secret.id) is None
    assert store.edit_message(room, secret.id, "back", []) is None
    assert store.toggle_reaction(room, secret.id, alice.id, "👍") is None


def test_reactions_toggle_per_user_and_count_in_first_use_order(store: ChatStore, user: Callable[..., UserRow]) -> None:
    """One of each emoji per user: a second toggle takes it back; counts list who reacted."""
    alice, bob, room = _room(store, user)
    message = store.save_message(room, alice.id, "ship it?", None).message
    store.toggle_reaction(room, message.id, alice.id, "🎉")
    store.toggle_reaction(room, message.id, bob.id, "🎉")
    after = store.toggle_reaction(room, message.id, bob.id, "👍")
    assert after is not None
    assert after.reactions == [
        {"emoji": "🎉", "count": 2, "users": ["alice", "bob"]},
        {"emoji": "👍", "count": 1, "users": ["bob"]},
    ]
    undone = store.toggle_reaction(room, message.id, bob.id, "🎉")
    assert undone is not None
    assert undone.reactions == [
        {"emoji": "🎉", "count": 1, "users": ["alice"]},
        {"emoji": "👍", "count": 1, "users": ["bob"]},
    ]
    assert undone.rev > after.rev


def test_a_reply_quotes_the_start_of_the_original_or_says_deleted(
    store: ChatStore, user: Callable[..., UserRow]
) -> None:
    """A reply carries the original's id, sender and first 200 characters; once deleted, no text."""
    alice, bob, room = _room(store, user)
    original = store.save_message(room, alice.id, "x" * 300, None).message
    reply = store.save_message(room, bob.id, "agreed", None, reply_to=original.id).message
    assert reply.reply == {"id": original.id, "sender": "alice", "text": "x" * 200, "deleted": False}
    store.delete_message(room, original.id)
    again = store.message(room, reply.id)
    assert again is not None and again.reply == {"id": original.id, "sender": "alice", "text": "", "deleted": True}


def test_changes_after_a_revision_are_the_older_messages_touched_since(
    store: ChatStore, user: Callable[..., UserRow]
) -> None:
    """Edits, deletions and reactions after ``since_rev`` come back, oldest change first, up to ``up_to``."""
    alice, bob, room = _room(store, user)
    a, b, c = (store.save_message(room, alice.id, t, None).message for t in ("a", "b", "c"))
    seen = c.rev
    store.toggle_reaction(room, b.id, bob.id, "❤️")
    store.edit_message(room, a.id, "a2", [])
    store.delete_message(room, c.id)
    newer = store.save_message(room, alice.id, "d", None).message

    changed, more = store.changes_after(room, up_to=c.id, since_rev=seen, limit=10)
    assert [m.id for m in changed] == [b.id, a.id, c.id] and more is False
    assert [m.content for m in changed] == ["b", "a2", ""]
    first, more = store.changes_after(room, up_to=newer.id, since_rev=seen, limit=2)
    assert [m.id for m in first] == [b.id, a.id] and more is True


def test_member_ids_by_username_ignore_case_and_non_members(store: ChatStore, user: Callable[..., UserRow]) -> None:
    """Mentioned names resolve to members only, in any letter case."""
    alice, bob, room = _room(store, user)
    user("carol")
    assert sorted(store.member_ids_by_username(room, ["BOB", "alice", "carol", "nobody"])) == sorted([alice.id, bob.id])


# ---------------------------------------------------------------- search


def test_search_matches_prefixes_of_every_word_in_any_script(store: ChatStore, user: Callable[..., UserRow]) -> None:
    """Words match as prefixes, all words must match, and Cyrillic or Greek words match like Latin ones."""
    alice, _bob, room = _room(store, user)
    deploy = store.save_message(room, alice.id, "Deploying the release tonight", None).message
    store.save_message(room, alice.id, "release notes are late", None)
    russian = store.save_message(room, alice.id, "Привет всем, выпуск готов", None).message
    greek = store.save_message(room, alice.id, "καλημέρα κόσμε", None).message

    hits, _ = store.search_messages(alice.id, ["deploy", "releas"])
    assert [h.message.id for h in hits] == [deploy.id]
    assert [h.message.id for h in store.search_messages(alice.id, ["выпус"])[0]] == [russian.id]
    assert [h.message.id for h in store.search_messages(alice.id, ["καλημ"])[0]] == [greek.id]
    assert store.search_messages(alice.id, ["absent"])[0] == []


def test_search_sees_own_rooms_and_public_groups_never_others_private_rooms(
    store: ChatStore, user: Callable[..., UserRow]
) -> None:
    """A private group the caller is not in, and other people's direct chats, never show up; deleted never."""
    alice, bob = user("alice"), user("bob")
    carol = user("carol")
    public = store.create_group("lobby", private=False, created_by=bob.id)
    hidden = store.create_group("board", private=True, created_by=bob.id)
    direct = store.get_or_create_direct(bob.id, carol.id)
    mine = store.create_group("mine", private=True, created_by=alice.id)
    in_public = store.save_message(public.id, bob.id, "budget public", None).message
    store.save_message(hidden.id, bob.id, "budget secret", None)
    store.save_message(direct.id, carol.id, "budget whisper", None)
    in_mine = store.save_message(mine.id, alice.id, "budget mine", None).message
    gone = store.save_message(mine.id, alice.id, "budget gone", None).message
    store.delete_message(mine.id, gone.id)

    hits, _ = store.search_messages(alice.id, ["budget"])
    assert sorted(h.message.id for h in hits) == sorted([in_public.id, in_mine.id])
    only, _ = store.search_messages(alice.id, ["budget"], room_id=mine.id)
    assert [h.message.id for h in only] == [in_mine.id]
    assert only[0].room_name == "mine" and only[0].room_kind == "group"


def test_search_pages_by_rank_then_id_without_repeats(store: ChatStore, user: Callable[..., UserRow]) -> None:
    """Following ``after`` from page to page visits every match once."""
    alice, _bob, room = _room(store, user)
    ids = {store.save_message(room, alice.id, f"lunch {'lunch ' * (i % 3)}#{i}", None).message.id for i in range(25)}
    seen: list[int] = []
    after: tuple[float, int] | None = None
    while True:
        hits, more = store.search_messages(alice.id, ["lunch"], after=after, limit=10)
        seen += [h.message.id for h in hits]
        if not more:
            break
        after = (hits[-1].rank, hits[-1].message.id)
    assert len(seen) == len(set(seen)) == 25 and set(seen) == ids
