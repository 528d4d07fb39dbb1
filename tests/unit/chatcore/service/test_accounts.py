"""Accounts over real PostgreSQL: registration, login and bearer-token authentication."""

from __future__ import annotations

import time

import pytest
from chatcore.errors import Conflict, TooManyAttempts, Unauthorized
from chatcore.postgres.store import ChatStore
from chatcore.service import accounts as accounts_module
from chatcore.service.accounts import AccountService, LoginLimits
from chatcore.tokens import TokenService

from tests.conftest import TOKEN_SECRET
from tests.helpers.records import delete_user


@pytest.fixture
def accounts(store: ChatStore, tokens: TokenService) -> AccountService:
    return AccountService(store, tokens)


def test_register_stores_a_hash_and_signs_in(accounts: AccountService, store: ChatStore, tokens: TokenService) -> None:
    """A new account keeps only a scrypt hash of the password and comes with a token for that user."""
    session = accounts.register("alice", "correct horse", email="a@example.com", nickname="Al")

    credentials = store.get_credentials("alice")
    assert credentials is not None and credentials.password_hash.startswith("scrypt$")
    assert "correct horse" not in credentials.password_hash
    assert (session.user.username, session.user.email, session.user.nickname) == ("alice", "a@example.com", "Al")
    assert tokens.verify(session.token).user_id == session.user.id
    assert session.expires_in == tokens.ttl_seconds


def test_usernames_are_unique_in_any_letter_case(accounts: AccountService) -> None:
    """Registering "Alice" next to "alice" is a conflict, so nobody can pose as someone else."""
    accounts.register("alice", "correct horse")
    for name in ("alice", "Alice", "ALICE"):
        with pytest.raises(Conflict):
            accounts.register(name, "another password")


def test_login_checks_the_password(accounts: AccountService) -> None:
    """The right password signs in; a wrong one, another letter case of the name, or an unknown user do not."""
    registered = accounts.register("alice", "correct horse")
    assert accounts.login("alice", "correct horse").user.id == registered.user.id
    for username, password in (("alice", "wrong horse"), ("Alice", "correct horse"), ("bob", "correct horse")):
        with pytest.raises(Unauthorized) as raised:
            accounts.login(username, password)
        assert str(raised.value) == "invalid username or password"


def test_login_of_an_unknown_user_still_spends_a_password_check(
    accounts: AccountService, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An unknown username costs a password check too, so timing does not tell which part was wrong."""
    burned: list[str] = []
    monkeypatch.setattr(accounts_module, "burn_password_check", burned.append)
    with pytest.raises(Unauthorized):
        accounts.login("nobody", "some password")
    assert burned == ["some password"]


def test_authenticate_accepts_a_bearer_token_of_an_existing_user(accounts: AccountService) -> None:
    """``Bearer <token>`` (any case of the scheme, surrounding spaces ignored) names the user."""
    session = accounts.register("alice", "correct horse")
    for header in (f"Bearer {session.token}", f"bearer {session.token}", f"BEARER  {session.token} "):
        identity = accounts.authenticate(header)
        assert (identity.user_id, identity.username) == (session.user.id, "alice")


@pytest.mark.parametrize("header", [None, "", "Bearer", "Bearer ", "Token abc", "Basic YWxpY2U6cHc="])
def test_authenticate_refuses_missing_or_other_schemes(accounts: AccountService, header: str | None) -> None:
    """No header, an empty token or another scheme is :class:`Unauthorized`."""
    with pytest.raises(Unauthorized):
        accounts.authenticate(header)


def test_authenticate_refuses_expired_tokens_and_deleted_users(store: ChatStore) -> None:
    """A token past its lifetime, or one whose user was deleted, is :class:`Unauthorized`."""
    now = [time.time()]
    tokens = TokenService(TOKEN_SECRET, ttl_seconds=60, clock=lambda: now[0])
    accounts = AccountService(store, tokens)
    alice, bob = accounts.register("alice", "correct horse"), accounts.register("bob", "correct horse")

    now[0] += 61
    with pytest.raises(Unauthorized):
        accounts.authenticate(f"Bearer {alice.token}")

    now[0] -= 61
    delete_user(store, bob.user.id)
    with pytest.raises(Unauthorized):
        accounts.authenticate(f"Bearer {bob.token}")


def _let_windows_pass(store: ChatStore, seconds: int) -> None:
    """Move every throttling window ``seconds`` into the past, as if that much time had gone by."""
    store._db.execute("UPDATE login_failures SET window_start = window_start - make_interval(secs => %s)", (seconds,))


def test_logins_are_refused_after_too_many_failures_for_a_username(store: ChatStore, tokens: TokenService) -> None:
    """Past the per-username limit even the right password is refused (429) until the window ends."""
    accounts = AccountService(store, tokens, LoginLimits(per_username=3, per_address=100, window_seconds=2))
    accounts.register("alice", "correct horse")
    accounts.register("bob", "battery staple")
    for _ in range(3):
        with pytest.raises(Unauthorized):
            accounts.login("alice", "wrong guess", "198.51.100.7")
    with pytest.raises(TooManyAttempts) as refused:
        accounts.login("Alice", "correct horse", "203.0.113.9")  # any case, any address
    assert refused.value.retry_after == 2
    assert accounts.login("bob", "battery staple", "198.51.100.7").user.username == "bob"  # others unaffected
    _let_windows_pass(store, seconds=3)
    assert accounts.login("alice", "correct horse", "198.51.100.7").user.username == "alice"


def test_logins_are_refused_after_too_many_failures_from_one_address(store: ChatStore, tokens: TokenService) -> None:
    """Guessing across many usernames from one address hits the per-address limit."""
    accounts = AccountService(store, tokens, LoginLimits(per_username=100, per_address=4, window_seconds=60))
    accounts.register("carol", "correct horse")
    for name in ("u1", "u2", "u3", "carol"):
        with pytest.raises(Unauthorized):
            accounts.login(name, "wrong guess", "192.0.2.50")
    with pytest.raises(TooManyAttempts):
        accounts.login("carol", "correct horse", "192.0.2.50")
    assert accounts.login("carol", "correct horse", "192.0.2.51").user.username == "carol"


def test_a_successful_login_clears_the_usernames_failures(store: ChatStore, tokens: TokenService) -> None:
    """A user who finally types the right password starts again from zero."""
    accounts = AccountService(store, tokens, LoginLimits(per_username=3, per_address=100, window_seconds=60))
    accounts.register("dave", "correct horse")
    for _ in range(2):
        with pytest.raises(Unauthorized):
            accounts.login("dave", "typo", "192.0.2.60")
    accounts.login("dave", "correct horse", "192.0.2.60")
    assert store.login_failures(["user:dave"], 60) == {"user:dave": 0}
