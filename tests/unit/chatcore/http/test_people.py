"""REST nicknames: finding someone to chat with by username or nickname prefix, a page at a time."""

from __future__ import annotations

import pytest

from tests.unit.chatcore.http.rest_support import Rest, assert_invalid


def _names(reply_body: dict[str, object]) -> list[str]:
    return [u["username"] for u in reply_body["users"]]  # type: ignore[attr-defined]


def test_prefix_search_matches_username_or_nickname_in_any_case(rest: Rest) -> None:
    """``q`` matches the start of a username or a nickname, ignoring case; the caller is left out."""
    alice = rest.user("alice", nickname="Ali")
    rest.user("bob", nickname="Alfie")
    rest.user("ALBERT")
    rest.user("carol", nickname="bob's friend")
    rest.user("dalia")

    reply = rest.call("GET", "/nicknames", token=rest.token(alice), query={"q": "aL"})

    assert reply.status == 200
    assert reply.body == {
        "users": [
            {"id": reply.body["users"][0]["id"], "username": "ALBERT", "nickname": None},
            {"id": reply.body["users"][1]["id"], "username": "bob", "nickname": "Alfie"},
        ],
        "nextOffset": None,
    }
    everyone = rest.call("GET", "/nicknames", token=rest.token(alice)).body
    assert _names(everyone) == ["ALBERT", "bob", "carol", "dalia"]


def test_pages_follow_next_offset_to_the_end(rest: Rest) -> None:
    """``limit``/``offset`` page through the matches; ``nextOffset`` is null on the last page."""
    caller = rest.user("zed")
    for n in range(5):
        rest.user(f"user{n}")
    token = rest.token(caller)

    first = rest.call("GET", "/nicknames", token=token, query={"q": "user", "limit": "2"}).body
    second = rest.call("GET", "/nicknames", token=token, query={"q": "user", "limit": "2", "offset": "2"}).body
    last = rest.call("GET", "/nicknames", token=token, query={"q": "user", "limit": "2", "offset": "4"}).body

    assert (_names(first), first["nextOffset"]) == (["user0", "user1"], 2)
    assert (_names(second), second["nextOffset"]) == (["user2", "user3"], 4)
    assert (_names(last), last["nextOffset"]) == (["user4"], None)


def test_default_page_is_twenty(rest: Rest) -> None:
    """Without ``limit`` a page holds 20 users."""
    caller = rest.user("zed")
    for n in range(21):
        rest.user(f"user{n:02}")
    page = rest.call("GET", "/nicknames", token=rest.token(caller), query={"q": "user"}).body
    assert len(page["users"]) == 20 and page["nextOffset"] == 20


@pytest.mark.parametrize("q", ["%", "a_", "\\", "a%", "'; DROP TABLE users;--"])
def test_wildcards_in_the_prefix_match_literally(rest: Rest, q: str) -> None:
    """``%``, ``_`` and backslashes in ``q`` are ordinary characters, not patterns."""
    caller = rest.user("zed")
    rest.user("alice")
    rest.user("a_b")
    reply = rest.call("GET", "/nicknames", token=rest.token(caller), query={"q": q})
    assert reply.status == 200
    assert _names(reply.body) == (["a_b"] if q == "a_" else [])


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"limit": "0"}, "limit"),
        ({"limit": "101"}, "limit"),
        ({"offset": "-1"}, "offset"),
        ({"offset": "many"}, "offset"),
        ({"q": "x" * 65}, "q"),
        ({"q": "nul\x00"}, "q"),
    ],
)
def test_invalid_paging_or_query_is_refused(rest: Rest, query: dict[str, str], field: str) -> None:
    """A limit outside 1..100, a negative offset or an over-long query answers 422 naming it."""
    caller = rest.user("zed")
    assert_invalid(rest.call("GET", "/nicknames", token=rest.token(caller), query=query), field)
