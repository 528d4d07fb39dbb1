"""REST auth: registration, login and the bearer token every other route needs."""

from __future__ import annotations

import time
from typing import Any

import pytest
from chatcore import passwords as auth_module
from chatcore.service import accounts as accounts_module
from chatcore.tokens import Identity, TokenService

from tests.conftest import TOKEN_SECRET
from tests.unit.chatcore.http.rest_support import Reply, Rest, assert_error, assert_invalid, password_hash

UNAUTHORIZED = {"statusCode": 401, "message": "Invalid or missing credentials"}


def test_register_returns_a_working_token_and_the_profile(rest: Rest) -> None:
    """Registering answers 201 with a bearer token, its lifetime and the new profile; the token works."""
    reply = rest.call(
        "POST",
        "/auth/register",
        {"username": "alice", "password": "correct horse", "email": "alice@example.com", "nickname": "Al"},
    )

    assert reply.status == 201, reply
    assert reply.body["tokenType"] == "Bearer"
    assert reply.body["expiresIn"] == 12 * 3600
    user = reply.body["user"]
    assert {k: user[k] for k in ("username", "nickname", "avatar", "email")} == {
        "username": "alice",
        "nickname": "Al",
        "avatar": None,
        "email": "alice@example.com",
    }
    assert isinstance(user["id"], int) and user["createdAt"]
    profile = rest.call("GET", "/profile", token=reply.body["token"])
    assert profile.status == 200 and profile.body == user
    stored = rest.store.get_credentials("alice")
    assert stored is not None and "correct horse" not in stored.password_hash


def test_register_taken_username_is_a_conflict_in_any_letter_case(rest: Rest) -> None:
    """A taken username answers 409, also when only its letter case differs."""
    rest.user("alice")
    for name in ("alice", "ALICE"):
        reply = rest.call("POST", "/auth/register", {"username": name, "password": "long enough"})
        assert_error(reply, 409, "username is taken")


def test_register_with_a_nickname_that_is_another_users_username_is_a_conflict(rest: Rest) -> None:
    """Registering with a nickname that folds to someone else's username answers 409 and creates nothing."""
    rest.user("alice")
    body = {"username": "mallory", "password": "long enough", "nickname": "\uff21LICE"}
    assert_error(rest.call("POST", "/auth/register", body), 409, "nickname is taken: it is another user's username")
    assert rest.store.get_user_by_username("mallory") is None


def test_register_a_username_that_is_another_users_nickname_is_a_conflict(rest: Rest) -> None:
    """Once bob goes by "carol", registering carol answers 409, so bob's messages cannot pass for hers."""
    rest.user("bob", nickname="carol")
    reply = rest.call("POST", "/auth/register", {"username": "Carol", "password": "long enough"})
    assert_error(reply, 409, "username is taken: another user goes by it as a nickname")
    ok = rest.call("POST", "/auth/register", {"username": "dave", "password": "long enough", "nickname": "DAVE"})
    assert ok.status == 201, ok


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"username": "al", "password": "long enough"}, "username"),
        ({"username": "a" * 33, "password": "long enough"}, "username"),
        ({"username": "al ice", "password": "long enough"}, "username"),
        ({"username": "al'ice", "password": "long enough"}, "username"),
        ({"username": "alice", "password": "short77"}, "password"),
        ({"username": "alice", "password": "12345678"}, "password"),
        ({"username": "alice", "password": "password"}, "password"),
        ({"username": "alice", "password": " " * 8}, "password"),
        ({"username": "alice", "password": "nine char"}, "password"),
        ({"username": "alice", "password": " " * 10}, "password"),
        ({"username": "alice", "password": "aaaaaaaaaaaa"}, "password"),
        ({"username": "alice", "password": "abababababab"}, "password"),
        ({"username": "alice", "password": "abcdabcdabcd"}, "password"),
        ({"username": "alice", "password": "1234567890"}, "password"),
        ({"username": "alice", "password": "password123"}, "password"),
        ({"username": "alice", "password": "PassWord123"}, "password"),
        ({"username": "alice", "password": "pass word 123"}, "password"),
        ({"username": "alice", "password": "qwertyuiop"}, "password"),
        ({"username": "alice", "password": "x" * 129}, "password"),
        ({"username": "alice", "password": "nul\x00in password"}, "password"),
        ({"username": "alice"}, "password"),
        ({"username": "alice", "password": "long enough", "email": "not-an-email"}, "email"),
        ({"username": "alice", "password": "long enough", "nickname": "   "}, "nickname"),
        ({"username": "alice", "password": "long enough", "nickname": "n" * 41}, "nickname"),
        ({"username": "alice", "password": "long enough", "nickname": "evil\u202etxt.exe"}, "nickname"),
        ({"username": "alice", "password": "long enough", "nickname": "bo\u200bb"}, "nickname"),
        ({"username": "alice", "password": "long enough", "nickname": "c1\x85control"}, "nickname"),
        ({"username": "alice", "password": "long enough", "admin": True}, "admin"),
        ({"username": 42, "password": "long enough"}, "username"),
    ],
)
def test_register_invalid_input_names_the_field(rest: Rest, body: dict[str, Any], field: str) -> None:
    """Each password-policy or field violation answers 422 naming the field; nothing is created."""
    assert_invalid(rest.call("POST", "/auth/register", body), field)
    assert rest.store.get_user_by_username("alice") is None


def test_register_password_policy_boundaries(rest: Rest) -> None:
    """Passwords of exactly 10 and 128 characters with 5 different ones (any characters) are accepted."""
    assert rest.call("POST", "/auth/register", {"username": "ten", "password": "tenchars!!"}).status == 201
    assert rest.call("POST", "/auth/register", {"username": "five", "password": "abcdeabcde"}).status == 201
    reply = rest.call("POST", "/auth/register", {"username": "long", "password": ("ü ö ä ß é " * 13)[:128]})
    assert reply.status == 201, reply


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("12345678", "at least 10 characters"),
        ("          ", "at least 5 different characters"),
        ("Password123", "most common passwords"),
    ],
)
def test_weak_passwords_are_refused_with_a_field_message(rest: Rest, password: str, message: str) -> None:
    """A short, repetitive or common password answers 422 with a message on the password field."""
    reply = rest.call("POST", "/auth/register", {"username": "weak", "password": password})
    assert_invalid(reply, "password")
    assert any(message in e["message"] for e in reply.body["errors"] if e["field"] == "password"), reply.body


@pytest.mark.parametrize("raw", ["not json", "[1, 2]", "", "null"])
def test_register_body_that_is_not_an_object_is_refused(rest: Rest, raw: str) -> None:
    """A body that is not a JSON object answers 422, not a server error."""
    reply = rest.call("POST", "/auth/register", raw_body=raw)
    assert_error(reply, 422, "Invalid request")
    assert reply.body["errors"]


def test_login_returns_a_fresh_token(rest: Rest) -> None:
    """Logging in with the right password answers 200 with a token for the same user."""
    alice = rest.user("alice")
    reply = rest.call("POST", "/auth/login", {"username": "alice", "password": "correct horse battery"})
    assert reply.status == 200, reply
    assert reply.body["tokenType"] == "Bearer" and reply.body["user"]["id"] == alice.user_id
    assert rest.call("GET", "/profile", token=reply.body["token"]).body["username"] == "alice"


def test_login_failures_look_the_same_for_unknown_user_and_wrong_password(
    rest: Rest, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Wrong password and unknown user give the same 401 body, and both spend exactly one argon2id check."""
    rest.user("alice")
    password_hash()  # the shared test hash, made before counting
    hashes: list[str] = []
    real_verify = auth_module._verify_argon2

    def counting_verify(stored: str, password: str) -> bool:
        hashes.append(password)
        return real_verify(stored, password)

    monkeypatch.setattr(auth_module, "_verify_argon2", counting_verify)
    auth_module.burn_password_check("warm")  # the dummy hash for unknown users exists from now on
    for username, password in (("alice", "wrong password"), ("nobody", "wrong password"), ("Alice", "correct")):
        hashes.clear()
        reply = rest.call("POST", "/auth/login", {"username": username, "password": password})
        assert reply.status == 401 and reply.body == UNAUTHORIZED
        assert hashes == [password], username  # the same work whether or not the user exists


def _login(rest: Rest, username: str, password: str, source_ip: str) -> Reply:
    return rest.call("POST", "/auth/login", {"username": username, "password": password}, source_ip=source_ip)


def test_login_is_refused_after_five_failures_from_one_address_with_retry_after(rest: Rest) -> None:
    """Five wrong passwords from one address, and its next attempt (even a right one) gets 429 + Retry-After."""
    rest.user("alice")
    for _ in range(5):
        assert _login(rest, "alice", "wrong password", "198.51.100.7").status == 401
    reply = _login(rest, "alice", "correct horse battery", "198.51.100.7")
    assert_error(reply, 429, "Too many failed attempts; try again later")
    assert reply.headers.get("Retry-After") == "900"


def test_an_attacker_cannot_lock_the_owner_out(rest: Rest) -> None:
    """However often others fail for a username, from however many addresses, its owner logs in from a clean one."""
    rest.user("alice")
    for address in ("198.51.100.7", "198.51.100.8", "198.51.100.9"):
        for _ in range(12):
            assert _login(rest, "alice", "wrong password", address).status in (401, 429)
    assert _login(rest, "alice", "correct horse battery", "198.51.100.7").status == 429
    reply = _login(rest, "alice", "correct horse battery", "203.0.113.9")
    assert reply.status == 200, reply


def test_spelling_variants_of_a_username_share_its_throttle(rest: Rest) -> None:
    """Failures for full-width or Kelvin-sign spellings of "kate" count against "kate" (folded, NFKC)."""
    rest.user("kate")
    for variant in ("\uff4bate", "\u212aATE", "\uff4b\uff41\uff54\uff45", "Kat\u200de", "KATE"):
        assert _login(rest, variant, "wrong password", "198.51.100.7").status == 401
    assert _login(rest, "kate", "correct horse battery", "198.51.100.7").status == 429
    assert _login(rest, "kate", "correct horse battery", "203.0.113.9").status == 200


def test_neighbours_behind_a_spraying_address_wait_seconds_not_minutes(
    rest: Rest, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After 100 failures from one address its logins are spaced: a neighbour there waits at most ten seconds."""
    monkeypatch.setattr(accounts_module, "burn_password_check", lambda password: None)  # 100 unknown users, fast
    rest.user("neighbour")
    for i in range(100):
        assert _login(rest, f"user{i % 25}", "wrong password", "198.51.100.7").status == 401
    refused = _login(rest, "neighbour", "correct horse battery", "198.51.100.7")
    assert_error(refused, 429)
    assert 1 <= int(refused.headers["Retry-After"]) <= 10
    # Ten seconds later, as far as the throttle can tell (its last attempt moved back instead of waiting):
    rest.store._db.execute("UPDATE login_failures SET last_attempt = last_attempt - interval '10 seconds'")
    reply = _login(rest, "neighbour", "correct horse battery", "198.51.100.7")
    assert reply.status == 200, reply


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"username": "alice"}, "password"),
        ({"password": "x"}, "username"),
        ({"username": "", "password": "x"}, "username"),
    ],
)
def test_login_missing_fields_are_invalid(rest: Rest, body: dict[str, Any], field: str) -> None:
    """A login body without a username or password answers 422 naming it."""
    assert_invalid(rest.call("POST", "/auth/login", body), field)


def _expired_token(who: Identity) -> str:
    issued_long_ago = TokenService(TOKEN_SECRET, ttl_seconds=60, clock=lambda: time.time() - 3600)
    return issued_long_ago.issue(who)


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "",
        "Bearer",
        "Bearer not-a-jwt",
        "Basic YWxpY2U6cGFzc3dvcmQ=",
        "expired",
        "forged",
        "deleted",
    ],
)
def test_protected_routes_refuse_missing_bad_expired_and_orphaned_tokens(rest: Rest, authorization: str | None) -> None:
    """No token, a malformed, forged or expired one, or one of a deleted user: the same 401 body."""
    alice = rest.user("alice")
    headers: dict[str, str] = {}
    if authorization == "expired":
        headers["authorization"] = f"Bearer {_expired_token(alice)}"
    elif authorization == "forged":
        headers["authorization"] = (
            f"Bearer {TokenService('another-secret-that-is-long-enough-9876543210').issue(alice)}"
        )
    elif authorization == "deleted":
        headers["authorization"] = f"Bearer {rest.token(alice)}"
        rest.store.delete_user(alice.user_id)
    elif authorization is not None:
        headers["authorization"] = authorization

    for method, path in (("GET", "/profile"), ("GET", "/groups"), ("GET", "/tags"), ("GET", "/direct")):
        reply = rest.call(method, path, headers=headers)
        assert reply.status == 401 and reply.body == UNAUTHORIZED, (path, reply)


def test_bearer_scheme_is_case_insensitive(rest: Rest) -> None:
    """``bearer <token>`` works like ``Bearer <token>`` (the scheme is case-insensitive in HTTP)."""
    alice = rest.user("alice")
    reply = rest.call("GET", "/profile", headers={"authorization": f"bearer {rest.token(alice)}"})
    assert reply.status == 200 and reply.body["username"] == "alice"


def test_missing_token_wins_over_an_invalid_body(rest: Rest) -> None:
    """An anonymous request with a bad body learns only that it needs credentials (401, not 422)."""
    reply = rest.call("POST", "/groups", {"name": ""})
    assert reply.status == 401 and reply.body == UNAUTHORIZED
    reply = rest.call("GET", "/groups/abc/messages", query={"limit": "9999"})
    assert reply.status == 401 and reply.body == UNAUTHORIZED
