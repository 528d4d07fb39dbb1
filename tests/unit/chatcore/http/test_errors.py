"""REST error handling: one JSON error shape, no stack traces, no 5xx for client input, parameterised SQL."""

from __future__ import annotations

import pytest

from tests.unit.chatcore.http.rest_support import Rest, assert_error, assert_invalid

INJECTION = "'); DROP TABLE users;--"


def test_unknown_route_is_a_json_404(rest: Rest) -> None:
    """A path or method the API does not have answers 404 in the error shape."""
    alice = rest.user("alice")
    assert_error(rest.call("GET", "/nope", token=rest.token(alice)), 404, "Not found")
    assert_error(rest.call("PUT", "/groups", token=rest.token(alice)), 404, "Not found")


@pytest.mark.parametrize(
    ("raw_body", "headers"),
    [
        (b"\xff\xfe\x00garbage", {}),
        ("[" * 50_000, {}),
        ('{"name": "x"', {}),
        ('{"name": "x"}', {"content-type": "text/plain"}),
        ("name=x", {"content-type": "application/x-www-form-urlencoded"}),
    ],
)
def test_unreadable_bodies_are_invalid_not_server_errors(
    rest: Rest, raw_body: bytes | str, headers: dict[str, str]
) -> None:
    """Bytes that are not UTF-8, JSON nested too deep, broken JSON or another content type: 422."""
    alice = rest.user("alice")
    reply = rest.call("POST", "/groups", raw_body=raw_body, headers=headers, token=rest.token(alice))
    assert_error(reply, 422, "Invalid request")
    assert reply.body["errors"]


def test_database_down_is_a_503_without_details(rest: Rest, monkeypatch: pytest.MonkeyPatch) -> None:
    """With PostgreSQL unreachable the API answers 503 with a plain message, no driver details."""
    token = rest.token(rest.user("alice"))
    monkeypatch.setenv("DATABASE_URL", "postgresql://nobody@127.0.0.1:9/none?connect_timeout=1")
    rest.module.services.cache_clear()
    for reply in (
        rest.call("POST", "/auth/login", {"username": "alice", "password": "whatever1"}),
        rest.call("GET", "/groups", token=token),
        rest.call("POST", "/groups", {"name": ""}, token=token),  # checking the token comes first
    ):
        assert_error(reply, 503, "Service temporarily unavailable")
        assert "psycopg" not in reply.text and "127.0.0.1" not in reply.text


def test_unexpected_error_is_a_500_without_a_stack_trace(rest: Rest, monkeypatch: pytest.MonkeyPatch) -> None:
    """A bug in the layer answers 500 with a generic message; the traceback goes to the log only."""
    alice = rest.user("alice")

    def broken(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("secret internals at /var/task/chatcore/rooms.py")

    monkeypatch.setattr(rest.module.services().rooms, "groups", broken)
    reply = rest.call("GET", "/groups", token=rest.token(alice))
    assert_error(reply, 500, "Internal server error")
    assert "secret internals" not in reply.text and 'File "' not in reply.text


def test_hostile_text_is_stored_and_read_back_unchanged(rest: Rest) -> None:
    """SQL-looking names, nicknames, tags and message text round-trip unchanged; the tables survive."""
    alice, bob = rest.user("alice"), rest.user("bob")
    token = rest.token(alice)

    group = rest.call("POST", "/groups", {"name": INJECTION, "private": True}, token=token)
    assert group.status == 201 and group.body["name"] == INJECTION
    profile = rest.call("PATCH", "/profile", {"nickname": INJECTION}, token=token)
    assert profile.body["nickname"] == INJECTION
    tag = rest.call("POST", "/tags", {"name": "x'); drop table user_tags;--"}, token=token)
    assert tag.status == 201 and tag.body["name"] == "x'); drop table user_tags;--"
    rest.store.save_message(group.body["id"], alice.user_id, INJECTION + ' "quoted" \\ %s %(x)s', None)

    history = rest.call("GET", f"/groups/{group.body['id']}/messages", token=token).body["messages"]
    assert [m["text"] for m in history] == [INJECTION + ' "quoted" \\ %s %(x)s']
    assert rest.call("GET", f"/groups/{group.body['id']}", token=token).body["name"] == INJECTION
    assert rest.call("GET", "/tags", token=token).body == {"tags": ["x'); drop table user_tags;--"]}
    found = rest.call("GET", "/nicknames", token=rest.token(bob), query={"q": "'); DROP"}).body["users"]
    assert [(u["username"], u["nickname"]) for u in found] == [("alice", INJECTION)]
    assert rest.call("DELETE", "/tags/x'); drop table user_tags;--", token=token).status == 204
    assert rest.store.get_user_by_username("bob") is not None


@pytest.mark.parametrize("text", ["nul\x00byte", "lone \ud800 surrogate"])
def test_text_postgres_cannot_store_is_refused_up_front(rest: Rest, text: str) -> None:
    """NUL characters and lone surrogates answer 422 instead of failing in PostgreSQL."""
    alice = rest.user("alice")
    token = rest.token(alice)
    assert_invalid(rest.call("POST", "/groups", {"name": text}, token=token), "name")
    assert_invalid(rest.call("PATCH", "/profile", {"nickname": text}, token=token), "nickname")
    assert_invalid(rest.call("POST", "/tags", {"name": text}, token=token), "name")
    assert_invalid(rest.call("POST", "/direct", {"username": text}, token=token), "username")
    assert_invalid(rest.call("POST", "/auth/login", {"username": text, "password": text}), "username")
