"""REST tags: the caller's tags, the most used tags, adding and removing."""

from __future__ import annotations

from typing import Any

import pytest

from tests.unit.chatcore.http.rest_support import Rest, assert_error, assert_invalid


def test_add_tag_trims_and_lower_cases(rest: Rest) -> None:
    """``POST /tags`` answers 201 with the stored name, trimmed and lower-cased; it then lists."""
    alice = rest.user("alice")
    reply = rest.call("POST", "/tags", {"name": "  Jazz Fusion "}, token=rest.token(alice))
    assert reply.status == 201 and reply.body == {"name": "jazz fusion"}
    assert rest.call("GET", "/tags", token=rest.token(alice)).body == {"tags": ["jazz fusion"]}


def test_adding_a_tag_twice_is_a_conflict(rest: Rest) -> None:
    """Adding a tag the caller has (in any case) answers 409; another user may have it too."""
    alice, bob = rest.user("alice"), rest.user("bob")
    rest.call("POST", "/tags", {"name": "rock"}, token=rest.token(alice))
    assert_error(rest.call("POST", "/tags", {"name": "ROCK "}, token=rest.token(alice)), 409)
    assert rest.call("POST", "/tags", {"name": "rock"}, token=rest.token(bob)).status == 201


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "name"),
        ({"name": "   "}, "name"),
        ({"name": "t" * 33}, "name"),
        ({"name": "a/b"}, "name"),
        ({"name": "what?"}, "name"),
        ({"name": "new\nline"}, "name"),
        ({"name": ["rock"]}, "name"),
        ({"name": "rock", "colour": "red"}, "colour"),
    ],
)
def test_add_tag_with_invalid_name_is_refused(rest: Rest, body: dict[str, Any], field: str) -> None:
    """A blank, too long, non-string or URL-breaking tag name answers 422 naming the field."""
    alice = rest.user("alice")
    assert_invalid(rest.call("POST", "/tags", body, token=rest.token(alice)), field)
    assert rest.call("GET", "/tags", token=rest.token(alice)).body == {"tags": []}


def test_my_tags_are_mine_only_sorted_by_name(rest: Rest) -> None:
    """``GET /tags`` lists only the caller's tags, by name."""
    alice, bob = rest.user("alice"), rest.user("bob")
    for name in ("zydeco", "blues"):
        rest.store.add_tag(alice.user_id, name)
    rest.store.add_tag(bob.user_id, "metal")
    assert rest.call("GET", "/tags", token=rest.token(alice)).body == {"tags": ["blues", "zydeco"]}
    assert rest.call("GET", "/tags", token=rest.token(alice), query={"all": "0"}).body == {"tags": ["blues", "zydeco"]}


def test_all_tags_are_counted_most_used_first(rest: Rest) -> None:
    """``GET /tags?all=1`` lists everyone's tags with how many users have each, most used first."""
    users = [rest.user(name) for name in ("alice", "bob", "carol")]
    for user, names in zip(users, (["rock", "jazz"], ["rock", "jazz"], ["rock", "blues"]), strict=True):
        for name in names:
            rest.store.add_tag(user.user_id, name)

    reply = rest.call("GET", "/tags", token=rest.token(users[0]), query={"all": "1"})

    assert reply.status == 200
    assert reply.body == {
        "tags": [{"name": "rock", "count": 3}, {"name": "jazz", "count": 2}, {"name": "blues", "count": 1}]
    }
    top = rest.call("GET", "/tags", token=rest.token(users[0]), query={"all": "true", "limit": "1"})
    assert top.body == {"tags": [{"name": "rock", "count": 3}]}


@pytest.mark.parametrize(
    ("query", "field"),
    [({"all": "perhaps"}, "all"), ({"all": "1", "limit": "0"}, "limit"), ({"limit": "101"}, "limit")],
)
def test_tag_listing_with_invalid_parameters_is_refused(rest: Rest, query: dict[str, str], field: str) -> None:
    """A non-boolean ``all`` or a limit outside 1..100 answers 422 naming it."""
    alice = rest.user("alice")
    assert_invalid(rest.call("GET", "/tags", token=rest.token(alice), query=query), field)


def test_remove_tag_matches_as_stored(rest: Rest) -> None:
    """``DELETE /tags/{name}`` answers 204 and removes the tag, matching case and spaces as when adding."""
    alice = rest.user("alice")
    rest.store.add_tag(alice.user_id, "jazz fusion")
    rest.store.add_tag(alice.user_id, "rock")
    reply = rest.call("DELETE", "/tags/Jazz Fusion", token=rest.token(alice))
    assert reply.status == 204 and reply.body is None
    assert rest.store.list_tags(alice.user_id) == ["rock"]


@pytest.mark.parametrize("name", ["blues", "rock", "t" * 40])
def test_removing_a_tag_the_caller_lacks_is_not_found(rest: Rest, name: str) -> None:
    """Removing a tag the caller does not have (another user's, or an impossible name) answers 404."""
    alice, bob = rest.user("alice"), rest.user("bob")
    rest.store.add_tag(bob.user_id, "rock")
    assert_error(rest.call("DELETE", f"/tags/{name}", token=rest.token(alice)), 404)
    assert rest.store.list_tags(bob.user_id) == ["rock"]


def test_an_account_holds_at_most_thirty_tags(rest: Rest) -> None:
    """The 31st tag answers 429 and is not stored; removing one makes room."""
    alice = rest.user("alice")
    token = rest.token(alice)
    for n in range(30):
        assert rest.call("POST", "/tags", {"name": f"tag{n}"}, token=token).status == 201
    assert_error(rest.call("POST", "/tags", {"name": "one more"}, token=token), 429)
    assert len(rest.call("GET", "/tags", token=token).body["tags"]) == 30
    assert rest.call("DELETE", "/tags/tag0", token=token).status == 204
    assert rest.call("POST", "/tags", {"name": "one more"}, token=token).status == 201
