"""REST direct chats: one private room per pair of users, listed with the other user."""

from __future__ import annotations

from typing import Any

import pytest

from tests.unit.chatcore.http.rest_support import Rest, assert_error, assert_invalid


def test_open_direct_returns_the_pairs_room_from_either_side(rest: Rest) -> None:
    """Both users get the same private direct room, created once however often it is asked for."""
    alice, bob = rest.user("alice"), rest.user("bob", nickname="Bobby")

    first = rest.call("POST", "/direct", {"username": "bob"}, token=rest.token(alice))
    again = rest.call("POST", "/direct", {"username": "bob"}, token=rest.token(alice))
    other_side = rest.call("POST", "/direct", {"username": "alice"}, token=rest.token(bob))

    assert first.status == 200, first
    assert first.body == {
        "id": first.body["id"],
        "kind": "direct",
        "private": True,
        "other": {"id": bob.user_id, "username": "bob", "nickname": "Bobby"},
    }
    assert again.body == first.body
    assert other_side.body["id"] == first.body["id"]
    assert other_side.body["other"] == {"id": alice.user_id, "username": "alice", "nickname": None}
    assert [m.username for m in rest.store.list_members(first.body["id"])] == ["alice", "bob"]


def test_open_direct_with_unknown_user_is_not_found(rest: Rest) -> None:
    """Asking for a chat with a username nobody has answers 404."""
    alice = rest.user("alice")
    assert_error(rest.call("POST", "/direct", {"username": "nobody"}, token=rest.token(alice)), 404, "user not found")


def test_open_direct_with_oneself_is_invalid(rest: Rest) -> None:
    """A direct chat with oneself answers 422 naming ``username``; no room is made."""
    alice = rest.user("alice")
    assert_invalid(rest.call("POST", "/direct", {"username": "alice"}, token=rest.token(alice)), "username")
    assert rest.call("GET", "/direct", token=rest.token(alice)).body == {"chats": [], "next": None}


@pytest.mark.parametrize(("body", "field"), [({}, "username"), ({"username": 5}, "username"), ({"user": "b"}, "user")])
def test_open_direct_with_invalid_body_is_refused(rest: Rest, body: dict[str, Any], field: str) -> None:
    """A body without a string username answers 422 naming the field."""
    alice = rest.user("alice")
    assert_invalid(rest.call("POST", "/direct", body, token=rest.token(alice)), field)


def test_list_direct_shows_each_chat_with_the_other_user_unread_and_last_message(rest: Rest) -> None:
    """``GET /direct`` lists the caller's chats, most recently active first, with unread counts."""
    alice, bob, carol = rest.user("alice"), rest.user("bob"), rest.user("carol", nickname="Caz")
    with_bob = rest.store.get_or_create_direct(alice.user_id, bob.user_id).id
    with_carol = rest.store.get_or_create_direct(carol.user_id, alice.user_id).id
    rest.store.save_message(with_bob, bob.user_id, "hi alice", None)
    last = rest.store.save_message(with_carol, carol.user_id, "hello", None).message.id
    rest.store.save_message(with_carol, alice.user_id, "my own", None)
    rest.store.create_group("not a direct chat", private=True, created_by=alice.user_id)

    reply = rest.call("GET", "/direct", token=rest.token(alice))

    assert reply.status == 200
    assert reply.body["next"] is None
    assert reply.body["chats"] == [
        {
            "id": with_carol,
            "other": {"id": carol.user_id, "username": "carol", "nickname": "Caz"},
            "unread": 1,
            "lastMessageId": last + 1,
        },
        {
            "id": with_bob,
            "other": {"id": bob.user_id, "username": "bob", "nickname": None},
            "unread": 1,
            "lastMessageId": reply.body["chats"][1]["lastMessageId"],
        },
    ]
    assert rest.call("GET", "/direct", token=rest.token(carol)).body["chats"][0]["other"]["username"] == "alice"
    assert rest.call("GET", "/direct", token=rest.token(rest.user("dave"))).body["chats"] == []


def test_direct_chats_come_a_page_at_a_time_most_recent_first(rest: Rest) -> None:
    """``GET /direct`` pages with a cursor, most recently active first, every chat once."""
    alice = rest.user("alice")
    rooms = []
    for n in range(7):
        other = rest.user(f"friend{n}")
        room = rest.store.get_or_create_direct(alice.user_id, other.user_id)
        if n % 2:
            rest.store.save_message(room.id, other.user_id, f"hi {n}", None)
        rooms.append(room.id)
    seen: list[int] = []
    cursor = None
    while True:
        query = {"limit": "3"} | ({"cursor": cursor} if cursor else {})
        body = rest.call("GET", "/direct", token=rest.token(alice), query=query).body
        seen += [c["id"] for c in body["chats"]]
        if (cursor := body["next"]) is None:
            break
    talked = [r for n, r in enumerate(rooms) if n % 2]
    quiet = [r for n, r in enumerate(rooms) if not n % 2]
    assert seen == talked[::-1] + quiet[::-1]  # latest message first, then the newest quiet rooms


def test_an_account_opens_at_most_sixty_new_direct_chats_an_hour(rest: Rest) -> None:
    """The 61st new direct chat within an hour answers 429; reopening an existing one always works."""
    alice = rest.user("alice")
    token = rest.token(alice)
    for n in range(60):
        assert rest.call("POST", "/direct", {"username": rest.user(f"p{n:02}").username}, token=token).status == 200
    assert_error(rest.call("POST", "/direct", {"username": rest.user("late").username}, token=token), 429)
    assert rest.call("POST", "/direct", {"username": "p00"}, token=token).status == 200
