"""Accounts over real PostgreSQL: registration, login and its throttling, bearer-token authentication."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import pytest
from chatcore.errors import Conflict, TooManyAttempts, Unauthorized
from chatcore.passwords import legacy_scrypt_hash, verify_password
from chatcore.postgres.database import Database
from chatcore.postgres.store import ChatStore
from chatcore.rows import LoginCounter, UserRow
from chatcore.service import accounts as accounts_module
from chatcore.service.accounts import AccountService, LoginKeys, LoginLimits
from chatcore.tokens import TokenService

from tests.conftest import TOKEN_SECRET

ATTACKER, OWNER, NEIGHBOUR = "198.51.100.7", "203.0.113.9", "198.51.100.7"


class Clock:
    """A settable clock in epoch seconds: tests move time instead of waiting."""

    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def accounts(store: ChatStore, tokens: TokenService, clock: Clock) -> AccountService:
    return AccountService(store, tokens, clock=clock)


@pytest.fixture
def cheap_unknown_users(monkeypatch: pytest.MonkeyPatch) -> None:
    """Logins of unknown users skip the stand-in argon2id check (~60 ms), for tests that make hundreds."""
    monkeypatch.setattr(accounts_module, "burn_password_check", lambda password: None)


def test_register_stores_a_hash_and_signs_in(accounts: AccountService, store: ChatStore, tokens: TokenService) -> None:
    """A new account keeps only an argon2id hash of the password and comes with a token for that user."""
    session = accounts.register("alice", "correct horse", email="a@example.com", nickname="Al")

    credentials = store.get_credentials("alice")
    assert credentials is not None and credentials.password_hash.startswith("$argon2id$")
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
    store.delete_user(bob.user.id)
    with pytest.raises(Unauthorized):
        accounts.authenticate(f"Bearer {bob.token}")


def test_a_burst_of_requests_looks_the_user_up_once(
    accounts: AccountService, store: ChatStore, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Requests of one token within ``USER_CHECK_SECONDS`` query the user once; the next after it queries again."""
    session = accounts.register("alice", "correct horse")
    lookups: list[int] = []
    get_user = store.get_user

    def counted(user_id: int) -> UserRow | None:
        lookups.append(user_id)
        return get_user(user_id)

    monkeypatch.setattr(store, "get_user", counted)
    for _ in range(5):
        assert accounts.authenticate(f"Bearer {session.token}").user_id == session.user.id
    clock.advance(accounts_module.USER_CHECK_SECONDS)
    accounts.authenticate(f"Bearer {session.token}")
    assert lookups == [session.user.id, session.user.id]


def test_a_user_deleted_elsewhere_is_refused_once_the_window_passes(
    accounts: AccountService, store: ChatStore, clock: Clock
) -> None:
    """A user deleted by another container is refused here at the latest ``USER_CHECK_SECONDS`` after the last
    lookup, and at once where no lookup is remembered."""
    alice, bob = accounts.register("alice", "correct horse"), accounts.register("bob", "correct horse")
    accounts.authenticate(f"Bearer {alice.token}")
    store.delete_user(alice.user.id)
    store.delete_user(bob.user.id)
    with pytest.raises(Unauthorized):
        accounts.authenticate(f"Bearer {bob.token}")
    clock.advance(accounts_module.USER_CHECK_SECONDS)
    with pytest.raises(Unauthorized):
        accounts.authenticate(f"Bearer {alice.token}")


def test_a_deleted_account_is_refused_at_once_where_it_was_deleted(accounts: AccountService) -> None:
    """Right after ``delete_account``, the same container refuses the account's token, remembered or not."""
    session = accounts.register("alice", "correct horse")
    header = f"Bearer {session.token}"
    accounts.authenticate(header)
    accounts.delete_account(accounts.authenticate(header), "correct horse")
    with pytest.raises(Unauthorized):
        accounts.authenticate(header)


def test_a_clock_set_back_looks_the_user_up_again(accounts: AccountService, store: ChatStore, clock: Clock) -> None:
    """A remembered lookup is not trusted once the clock goes backwards (it would never expire)."""
    session = accounts.register("alice", "correct horse")
    accounts.authenticate(f"Bearer {session.token}")
    store.delete_user(session.user.id)
    clock.advance(-3600)
    with pytest.raises(Unauthorized):
        accounts.authenticate(f"Bearer {session.token}")


def _fail(accounts: AccountService, username: str, address: str, times: int = 1) -> None:
    for _ in range(times):
        with pytest.raises(Unauthorized):
            accounts.login(username, "wrong guess", address)


def _refused(accounts: AccountService, username: str, password: str, address: str) -> int:
    """Log in expecting 429; the Retry-After seconds."""
    with pytest.raises(TooManyAttempts) as refused:
        accounts.login(username, password, address)
    return refused.value.retry_after


def _counters(store: ChatStore, clock: Clock, username: str, address: str) -> tuple[int, int, int]:
    keys = LoginKeys.of(username, address)
    now = datetime.fromtimestamp(clock(), tz=UTC)
    counters = store.login_counters(keys.all, window_seconds=900, now=now)
    return counters[keys.pair].failures, counters[keys.username].failures, counters[keys.address].failures


def test_an_attackers_failures_do_not_lock_the_owner_out(accounts: AccountService) -> None:
    """Failures from an attacker's address stop that address only: the owner, from a clean one, still logs in."""
    accounts.register("alice", "correct horse")
    _fail(accounts, "alice", ATTACKER, times=5)
    for _ in range(20):  # the attacker keeps hammering: refused, and nothing more is counted
        _refused(accounts, "alice", "wrong guess", ATTACKER)
    assert accounts.login("alice", "correct horse", OWNER).user.username == "alice"


def test_one_address_gets_five_guesses_per_username_per_window(accounts: AccountService, clock: Clock) -> None:
    """Five failures from one address refuse it for that username (any password) until the window ends, no longer."""
    accounts.register("alice", "correct horse")
    accounts.register("bob", "battery staple")
    _fail(accounts, "alice", ATTACKER, times=5)
    assert _refused(accounts, "alice", "correct horse", ATTACKER) == 900
    clock.advance(600)
    assert _refused(accounts, "alice", "correct horse", ATTACKER) == 300
    assert accounts.login("bob", "battery staple", ATTACKER).user.username == "bob"
    clock.advance(300)
    assert accounts.login("alice", "correct horse", ATTACKER).user.username == "alice"


def test_a_username_under_attack_admits_only_clean_addresses(accounts: AccountService, clock: Clock) -> None:
    """Past ten failures for a username only addresses without a failure for it may try (one guess each)."""
    accounts.register("alice", "correct horse")
    _fail(accounts, "alice", "192.0.2.1", times=4)
    _fail(accounts, "alice", "192.0.2.2", times=4)
    _fail(accounts, "alice", "192.0.2.3", times=2)  # ten in all: alice is protected now
    retry_after = _refused(accounts, "alice", "correct horse", "192.0.2.3")  # only two failures here, still refused
    assert retry_after == 900
    _fail(accounts, "alice", "192.0.2.4")  # a clean address gets its one guess...
    _refused(accounts, "alice", "wrong guess", "192.0.2.4")  # ...and no second one
    assert accounts.login("alice", "correct horse", OWNER).user.username == "alice"
    clock.advance(900)  # the window is over: everyone may try again
    assert accounts.login("alice", "correct horse", "192.0.2.3").user.username == "alice"


@pytest.mark.parametrize("variant", ["\u212aate", "KATE", "\uff2b\uff41\uff54\uff45", "Kat\u200de"])
def test_spelling_variants_count_against_the_folded_username(accounts: AccountService, variant: str) -> None:
    """Failures for a variant of "kate" (Kelvin sign, capitals, full width, joiner) count against "kate"."""
    accounts.register("kate", "correct horse")
    _fail(accounts, variant, ATTACKER, times=5)
    _refused(accounts, "kate", "correct horse", ATTACKER)
    assert accounts.login("kate", "correct horse", OWNER).user.username == "kate"


def test_a_spray_from_one_address_is_spaced_and_its_neighbours_wait_seconds(
    accounts: AccountService, clock: Clock, cheap_unknown_users: None
) -> None:
    """Past 100 failures from an address its attempts are spaced 10 s apart: a NAT neighbour waits seconds."""
    accounts.register("neighbour", "correct horse")
    for i in range(100):  # 25 names, four guesses each: no pair limit is reached
        _fail(accounts, f"user{i % 25}", ATTACKER)
        clock.advance(1)
    assert _refused(accounts, "neighbour", "correct horse", NEIGHBOUR) == 9  # the last failure was 1 s ago
    clock.advance(9)
    assert accounts.login("neighbour", "correct horse", NEIGHBOUR).user.username == "neighbour"
    assert _refused(accounts, "user99", "wrong guess", ATTACKER) == 10  # the spray waits for the next slot...
    clock.advance(10)
    _fail(accounts, "user99", ATTACKER)  # ...gets one guess...
    assert _refused(accounts, "user98", "wrong guess", ATTACKER) == 10  # ...and waits again
    assert accounts.login("neighbour", "correct horse", OWNER).user.username == "neighbour"  # others: not spaced


def test_a_right_password_forgives_its_own_typos(accounts: AccountService, store: ChatStore, clock: Clock) -> None:
    """A login forgets its address's failures for the username and takes them off the other two counts."""
    accounts.register("dave", "correct horse")
    _fail(accounts, "bob", OWNER, times=2)
    _fail(accounts, "dave", "192.0.2.60")
    _fail(accounts, "dave", OWNER, times=4)
    assert _counters(store, clock, "dave", OWNER) == (4, 5, 6)
    accounts.login("dave", "correct horse", OWNER)
    assert _counters(store, clock, "dave", OWNER) == (0, 1, 2)
    _fail(accounts, "dave", OWNER, times=4)
    assert accounts.login("dave", "correct horse", OWNER).user.username == "dave"


def test_refused_attempts_count_nothing(accounts: AccountService, store: ChatStore, clock: Clock) -> None:
    """A 429 leaves every counter as it was: hammering a refused pair does not push the address into spacing."""
    accounts.register("erin", "correct horse")
    _fail(accounts, "erin", ATTACKER, times=5)
    for _ in range(50):
        _refused(accounts, "erin", "wrong guess", ATTACKER)
    assert _counters(store, clock, "erin", ATTACKER) == (5, 5, 5)


@pytest.fixture
def stores(database_url: str) -> Iterator[Callable[[], ChatStore]]:
    """Stores with a connection each, for attempts made in parallel."""
    opened: list[Database] = []

    def make() -> ChatStore:
        opened.append(Database(database_url))
        return ChatStore(opened[-1])

    yield make
    for db in opened:
        db.close()


def test_parallel_guesses_cannot_pass_the_limit_together(
    store: ChatStore, tokens: TokenService, stores: Callable[[], ChatStore]
) -> None:
    """Twenty wrong passwords sent at once from one address: five are checked (401), fifteen refused (429)."""
    AccountService(store, tokens).register("frank", "correct horse")
    services = [AccountService(stores(), tokens) for _ in range(20)]
    start = threading.Barrier(len(services))
    outcomes: list[str] = []

    def guess(service: AccountService) -> None:
        start.wait()
        try:
            service.login("frank", "wrong guess", ATTACKER)
        except Unauthorized:
            outcomes.append("401")
        except TooManyAttempts:
            outcomes.append("429")

    threads = [threading.Thread(target=guess, args=(service,)) for service in services]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(outcomes) == ["401"] * 5 + ["429"] * 15


def test_legacy_scrypt_hashes_are_replaced_at_the_next_login(accounts: AccountService, store: ChatStore) -> None:
    """A user whose hash is still scrypt logs in as before, and from then on has an argon2id hash."""
    legacy = store.create_user("grace", legacy_scrypt_hash("correct horse"))
    _fail(accounts, "grace", OWNER)
    assert store.get_credentials("grace").password_hash.startswith("scrypt$")  # type: ignore[union-attr]
    assert accounts.login("grace", "correct horse", OWNER).user.id == legacy.id
    credentials = store.get_credentials("grace")
    assert credentials is not None and credentials.password_hash.startswith("$argon2id$")
    assert verify_password("correct horse", credentials.password_hash)
    assert accounts.login("grace", "correct horse", OWNER).user.id == legacy.id


def test_the_throttle_uses_the_services_clock(store: ChatStore, tokens: TokenService) -> None:
    """Windows are measured on the injected clock: a window that ended on it is over, whatever real time says."""
    clock = Clock()
    clock.now = time.time() - 10 * 86400  # long ago in real time
    accounts = AccountService(store, tokens, LoginLimits(per_pair=2, window_seconds=60), clock=clock)
    accounts.register("heidi", "correct horse")
    _fail(accounts, "heidi", ATTACKER, times=2)
    assert _refused(accounts, "heidi", "correct horse", ATTACKER) == 60
    clock.advance(60)
    assert accounts.login("heidi", "correct horse", ATTACKER).user.username == "heidi"
    now = datetime.fromtimestamp(clock(), tz=UTC)
    counter = store.login_counters(["user:heidi"], window_seconds=60, now=now)["user:heidi"]
    assert counter == LoginCounter(failures=0, window_ends=None, last_attempt=now)


def test_right_and_wrong_passwords_at_once_all_complete(
    store: ChatStore, tokens: TokenService, stores: Callable[[], ChatStore]
) -> None:
    """Right and wrong logins for one username from one address, all at once: each ends in 200 or 401, no error."""
    limits = LoginLimits(per_pair=1000, per_username=1000)
    AccountService(store, tokens, limits).register("ivan", "correct horse")
    services = [AccountService(stores(), tokens, limits) for _ in range(12)]
    outcomes: list[str] = []
    for _ in range(10):
        start = threading.Barrier(len(services))
        threads = [
            threading.Thread(target=_attempt, args=(service, start, "correct horse" if i % 2 else "typo", outcomes))
            for i, service in enumerate(services)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    assert sorted(set(outcomes)) == ["200", "401"] and len(outcomes) == 120
    assert outcomes.count("200") == 60


def _attempt(service: AccountService, start: threading.Barrier, password: str, outcomes: list[str]) -> None:
    start.wait()
    try:
        service.login("ivan", password, ATTACKER)
        outcomes.append("200")
    except Unauthorized:
        outcomes.append("401")
    except Exception as error:  # a deadlock or any other failure: counted, and fails the test
        outcomes.append(type(error).__name__)
