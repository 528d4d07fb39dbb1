"""Users in PostgreSQL: accounts, profiles, people search and hostile text (real embedded PostgreSQL)."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
from chatcore.errors import Conflict
from chatcore.postgres.database import Database
from chatcore.postgres.store import ChatStore
from chatcore.rows import UserRow

from tests.unit.chatcore.postgres.conftest import HASH


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
    assert [g.name for g in store.groups_page(member.id)[0]] == [text]
    assert [r.id for r in store.search_people(text, limit=5, offset=0)] == [member.id]


# ---------------------------------------------------------------- names that could pass for someone else's


def _nickname_key(store: ChatStore, user_id: int) -> str | None:
    key: str | None = store._db.values("SELECT nickname_key FROM users WHERE id = %s", (user_id,))[0][0]
    return key


@pytest.mark.parametrize("nickname", ["alice", "ALICE", "\uff21lice", "al\u200dice", "Alice"])
def test_a_nickname_may_not_fold_to_another_users_username(
    store: ChatStore, user: Callable[..., UserRow], nickname: str
) -> None:
    """Registering or changing to a nickname that folds to someone else's username is a Conflict; nothing changes."""
    user("alice")
    bob = user("bob", nickname="Bobby")
    with pytest.raises(Conflict, match="another user's username"):
        store.create_user("mallory", HASH, nickname=nickname)
    with pytest.raises(Conflict, match="another user's username"):
        store.update_profile(bob.id, {"nickname": nickname})
    assert store.get_user_by_username("mallory") is None
    assert store.get_user(bob.id) == bob


def test_a_username_may_not_fold_to_another_users_nickname(store: ChatStore, user: Callable[..., UserRow]) -> None:
    """Once bob goes by "Carol", nobody may register as carol (or CAROL): bob would pass for them."""
    user("bob", nickname="\uff23arol")
    for name in ("carol", "CAROL"):
        assert store.name_conflict(name) == "username is taken: another user goes by it as a nickname"
        with pytest.raises(Conflict, match="nickname"):
            store.create_user(name, HASH)
    assert store.name_conflict("alice") is None
    assert user("carolyn").username == "carolyn"


def test_own_username_and_shared_nicknames_are_fine(store: ChatStore, user: Callable[..., UserRow]) -> None:
    """A nickname may be your own username in any case, or a nickname someone else has too."""
    alice = user("alice", nickname="ALICE")
    bob = user("bob", nickname="Al")
    carol = user("carol", nickname="Al")
    assert store.update_profile(alice.id, {"nickname": "Alice"}).nickname == "Alice"
    assert (bob.nickname, carol.nickname) == ("Al", "Al")
    assert store.update_profile(bob.id, {"nickname": None}).nickname is None
    assert _nickname_key(store, bob.id) is None


def test_nicknames_are_stored_with_their_folded_key(store: ChatStore, user: Callable[..., UserRow]) -> None:
    """Each nickname keeps NFKC(casefold(NFKC(nickname))) beside it, written on create and on every change."""
    dora = user("dora", nickname="Stra\u00dfe")
    assert _nickname_key(store, dora.id) == "strasse"
    store.update_profile(dora.id, {"nickname": "\u212aIM"})
    assert _nickname_key(store, dora.id) == "kim"
    store.update_profile(dora.id, {"avatar": "https://example.com/d.png"})
    assert _nickname_key(store, dora.id) == "kim"


def _race_for(name: str, database_url: str, bob_id: int) -> list[str]:
    """Register ``name`` and rename bob to it (in capitals) at the same moment, on two connections."""
    stores = [ChatStore(Database(database_url)) for _ in range(2)]
    start = threading.Barrier(2)
    outcomes: list[str] = []

    def register() -> None:
        start.wait(10)
        try:
            stores[0].create_user(name, HASH)
            outcomes.append("registered")
        except Conflict:
            outcomes.append("conflict")

    def rename() -> None:
        start.wait(10)
        try:
            stores[1].update_profile(bob_id, {"nickname": name.upper()})
            outcomes.append("renamed")
        except Conflict:
            outcomes.append("conflict")

    threads = [threading.Thread(target=register), threading.Thread(target=rename)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    for other in stores:
        other._db.close()
    return sorted(outcomes)


def test_racing_for_one_name_lets_only_one_through(store: ChatStore, database_url: str) -> None:
    """A registration of "carol" racing bob's change of nickname to "CAROL": exactly one of them succeeds."""
    bob = store.create_user("bob", HASH)
    for round_number in range(8):
        outcomes = _race_for(f"carol{round_number}", database_url, bob.id)
        assert outcomes in (["conflict", "registered"], ["conflict", "renamed"]), outcomes


def test_a_deleted_users_groups_pass_to_their_longest_standing_member(
    store: ChatStore, user: Callable[..., UserRow]
) -> None:
    """Deleting an account hands each group it owns to its oldest other member; a group of its own goes too."""
    alice, bob, carol = user("alice"), user("bob"), user("carol")
    shared = store.create_group("shared", private=False, created_by=alice.id)
    store.add_member(shared.id, bob.id)
    store.add_member(shared.id, carol.id)
    alone = store.create_group("alone", private=True, created_by=alice.id)
    assert store.delete_user(alice.id) is True
    assert store.get_user(alice.id) is None
    assert store.room_and_role(shared.id, bob.id)[1] == "owner"
    assert store.room_and_role(shared.id, carol.id)[1] == "member"
    assert store.room_and_role(alone.id, bob.id) == (None, None)
