"""REST profile: the caller's own profile and other users' public profiles."""

from __future__ import annotations

from typing import Any

import pytest

from tests.unit.chatcore.http.rest_support import Rest, assert_error, assert_invalid


def test_get_profile_shows_every_profile_field(rest: Rest) -> None:
    """``GET /profile`` answers the caller's id, username, nickname, avatar, email and creation time."""
    alice = rest.user("alice", nickname="Al")
    reply = rest.call("GET", "/profile", token=rest.token(alice))
    assert reply.status == 200
    assert set(reply.body) == {"id", "username", "nickname", "avatar", "email", "createdAt"}
    assert (reply.body["id"], reply.body["username"], reply.body["nickname"]) == (alice.user_id, "alice", "Al")


def test_patch_profile_changes_only_given_fields_and_null_clears(rest: Rest) -> None:
    """PATCH sets the fields sent, keeps the ones left out, and clears a field sent as null."""
    alice = rest.user("alice", nickname="Al")
    token = rest.token(alice)

    changed = rest.call(
        "PATCH",
        "/profile",
        {"avatar": "https://cdn.example.com/a.png?size=64", "email": "al@example.com", "nickname": "  Ally  "},
        token=token,
    )
    assert changed.status == 200, changed
    assert (changed.body["nickname"], changed.body["avatar"], changed.body["email"]) == (
        "Ally",
        "https://cdn.example.com/a.png?size=64",
        "al@example.com",
    )

    cleared = rest.call("PATCH", "/profile", {"email": None}, token=token)
    assert (cleared.body["nickname"], cleared.body["avatar"], cleared.body["email"]) == (
        "Ally",
        "https://cdn.example.com/a.png?size=64",
        None,
    )
    assert rest.call("GET", "/profile", token=token).body == cleared.body
    assert rest.call("PATCH", "/profile", {}, token=token).body == cleared.body


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"avatar": "javascript:alert(1)"}, "avatar"),
        ({"avatar": "ftp://files.example.com/a.png"}, "avatar"),
        ({"avatar": "https://"}, "avatar"),
        ({"avatar": "https://example.com/" + "a" * 2048}, "avatar"),
        ({"email": "two@@example.com"}, "email"),
        ({"nickname": "n" * 41}, "nickname"),
        ({"nickname": "tab\there"}, "nickname"),
        ({"nickname": "\u202eevil"}, "nickname"),
        ({"nickname": "iso\u2067late\u2069"}, "nickname"),
        ({"nickname": "zero\u200bwidth"}, "nickname"),
        ({"nickname": "\u200djoiner first"}, "nickname"),
        ({"nickname": "joiner last\u200d"}, "nickname"),
        ({"nickname": "two\u200d\u200djoiners"}, "nickname"),
        ({"nickname": "soft\u00adhyphen"}, "nickname"),
        ({"nickname": "c1\x9bcontrol"}, "nickname"),
        ({"nickname": "next\u0085line"}, "nickname"),
        ({"nickname": "line\u2028separator"}, "nickname"),
        ({"nickname": "tag\U000e0041s"}, "nickname"),
        ({"nickname": "\u3164"}, "nickname"),
        ({"nickname": "zalgo" + "\u0301\u0302\u0303\u0304\u0305"}, "nickname"),
        ({"nickname": "zalgo" + "\u0301\u0302\u200d\u0303\u0304\u0305"}, "nickname"),
        ({"nickname": ""}, "nickname"),
        ({"username": "mallory"}, "username"),
        ({"nickname": 7}, "nickname"),
    ],
)
def test_patch_profile_invalid_field_is_refused_and_nothing_changes(
    rest: Rest, body: dict[str, Any], field: str
) -> None:
    """An invalid avatar URL, email or nickname, or a field that is not editable: 422 naming it, no change."""
    alice = rest.user("alice", nickname="Al")
    token = rest.token(alice)
    before = rest.call("GET", "/profile", token=token).body

    assert_invalid(rest.call("PATCH", "/profile", body, token=token), field)
    assert rest.call("GET", "/profile", token=token).body == before


def test_get_user_shows_the_public_profile_only(rest: Rest) -> None:
    """``GET /users/{username}`` answers id, username, nickname and avatar, never the email."""
    alice, bob = rest.user("alice"), rest.user("bob", nickname="Bobby")
    rest.store.update_profile(bob.user_id, {"email": "bob@example.com", "avatar": "https://example.com/b.png"})

    reply = rest.call("GET", "/users/bob", token=rest.token(alice))

    assert reply.status == 200
    assert reply.body == {
        "id": bob.user_id,
        "username": "bob",
        "nickname": "Bobby",
        "avatar": "https://example.com/b.png",
    }


@pytest.mark.parametrize("username", ["nobody", "BOB", "b", "bob smith", "bób"])
def test_get_unknown_user_is_not_found(rest: Rest, username: str) -> None:
    """An unknown (or impossible) username answers 404; usernames match exactly."""
    alice = rest.user("alice")
    rest.user("bob")
    assert_error(rest.call("GET", f"/users/{username}", token=rest.token(alice)), 404, "user not found")


@pytest.mark.parametrize(
    "nickname",
    [
        pytest.param("\u0645\u06cc\u200c\u062e\u0648\u0627\u0645", id="persian-zwnj"),
        pytest.param("\U0001f469\u200d\U0001f4bb coder", id="emoji-zwj-sequence"),
        pytest.param("\U0001f3f3\ufe0f\u200d\U0001f308", id="rainbow-flag"),
        pytest.param("1\ufe0f\u20e3 keycap", id="keycap"),
        pytest.param("Nguy\u1ec5n", id="vietnamese"),
        pytest.param("Nguye\u0302\u0303n", id="vietnamese-decomposed"),
        pytest.param("\u0915\u094d\u0937\u0924\u094d\u0930\u093f\u092f", id="devanagari"),
        pytest.param("a\u0301\u0302\u0303\u0304", id="four-combining-marks"),
        pytest.param("\u05e9\u05dc\u05d5\u05dd", id="hebrew"),
    ],
)
def test_nicknames_in_any_script_are_accepted(rest: Rest, nickname: str) -> None:
    """Joiners between characters, emoji sequences and up to four combining marks in a row are fine."""
    alice = rest.user("alice")
    reply = rest.call("PATCH", "/profile", {"nickname": nickname}, token=rest.token(alice))
    assert reply.status == 200, reply
    assert reply.body["nickname"] == nickname


@pytest.mark.parametrize("nickname", ["bob", "BOB", "\uff42ob", "b\u200dob"])
def test_a_nickname_that_is_another_users_username_is_a_conflict(rest: Rest, nickname: str) -> None:
    """PATCH /profile with a nickname equal (folded) to someone else's username answers 409; nothing changes."""
    alice = rest.user("alice", nickname="Al")
    rest.user("bob")
    token = rest.token(alice)
    reply = rest.call("PATCH", "/profile", {"nickname": nickname}, token=token)
    assert_error(reply, 409, "nickname is taken: it is another user's username")
    assert rest.call("GET", "/profile", token=token).body["nickname"] == "Al"


def test_a_nickname_may_be_ones_own_username_or_shared(rest: Rest) -> None:
    """Your own username (any case) is a fine nickname, and so is a nickname somebody else has too."""
    alice, bob = rest.user("alice"), rest.user("bob", nickname="Sunny")
    assert rest.call("PATCH", "/profile", {"nickname": "ALICE"}, token=rest.token(alice)).body["nickname"] == "ALICE"
    assert rest.call("PATCH", "/profile", {"nickname": "Sunny"}, token=rest.token(alice)).status == 200
    assert rest.row(bob).nickname == "Sunny"
