"""``GET /search`` through the REST handler."""

from __future__ import annotations

from chatcore.tokens import Identity

from tests.unit.chatcore.http.rest_support import Reply, Rest, assert_error, assert_invalid


def _search(rest: Rest, who: Identity, **query: str) -> Reply:
    return rest.call("GET", "/search", query=query, token=rest.token(who))


def test_search_finds_readable_messages_with_their_room(rest: Rest) -> None:
    """Matches come with their room (id, name, kind) and the message in the WebSocket shape."""
    alice, bob = rest.user("alice"), rest.user("bob")
    lobby = rest.store.create_group("lobby", private=False, created_by=alice.user_id).id
    secret = rest.store.create_group("secret", private=True, created_by=bob.user_id).id
    found = rest.store.save_message(lobby, alice.user_id, "Quarterly roadmap review", None).message
    rest.store.save_message(secret, bob.user_id, "roadmap for the secret project", None)

    reply = _search(rest, alice, q="roadm")
    assert reply.status == 200
    results = reply.body["results"]
    assert [(r["room"]["id"], r["room"]["name"], r["message"]["id"]) for r in results] == [(lobby, "lobby", found.id)]
    assert results[0]["message"]["text"] == "Quarterly roadmap review"


def test_search_pages_with_before(rest: Rest) -> None:
    """``next`` of one page, passed as ``before``, gives the next page; the last page has no ``next``."""
    alice = rest.user("alice")
    lobby = rest.store.create_group("lobby", private=False, created_by=alice.user_id).id
    ids = {rest.store.save_message(lobby, alice.user_id, f"standup {n}", None).message.id for n in range(7)}
    first = _search(rest, alice, q="standup", limit="4").body
    second = _search(rest, alice, q="standup", limit="4", before=first["next"]).body
    seen = [r["message"]["id"] for r in first["results"] + second["results"]]
    assert sorted(seen) == sorted(ids)
    assert second.get("next") is None


def test_search_refuses_a_room_the_caller_cannot_read(rest: Rest) -> None:
    """``roomId`` of a private group the caller is not in is 403; an unknown one 404."""
    alice, bob = rest.user("alice"), rest.user("bob")
    secret = rest.store.create_group("secret", private=True, created_by=bob.user_id).id
    assert_error(_search(rest, alice, q="x", roomId=str(secret)), 403)
    assert_error(_search(rest, alice, q="x", roomId=str(secret + 9)), 404)


def test_a_query_without_words_or_a_forged_cursor_is_422(rest: Rest) -> None:
    """Punctuation only, an empty ``q`` and a cursor this API never gave out are refused with the field named."""
    alice = rest.user("alice")
    assert_invalid(_search(rest, alice, q="&|!:*"), "q")
    assert_invalid(_search(rest, alice, q=""), "q")
    assert_invalid(_search(rest, alice, q="x", before="bm90LWEtY3Vyc29y"), "cursor")


def test_search_needs_a_token(rest: Rest) -> None:
    """Without a bearer token the answer is 401."""
    assert_error(rest.call("GET", "/search", query={"q": "x"}), 401)
