"""Registration, login (with throttling that slows guessing without letting anyone lock others out) and
bearer-token authentication."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, NamedTuple

from chatcore.errors import Conflict, Forbidden, TooManyAttempts, Unauthorized
from chatcore.fields import fold_name
from chatcore.observability import logger
from chatcore.passwords import burn_password_check, hash_password, needs_rehash, verify_password
from chatcore.tokens import Identity, TokenService

if TYPE_CHECKING:
    from chatcore.ports import Store
    from chatcore.rows import LoginCounter, UserRow
    from chatcore.service.live import LiveUpdates


class LoginLimits(NamedTuple):
    """The login throttle, over fixed windows of ``window_seconds`` that start at a key's first failure.

    - ``per_pair``: failures of one username from one address before that address is refused for that
      username (429) until its window ends. Others, and the same address for other usernames, go on.
    - ``per_username``: failures of one username from all addresses together before the username is
      *protected*: only addresses with no failure for it in the window may still try (so its owner, from
      a clean address and with the right password, still gets in); the others get 429.
    - ``per_address``: failures from one address over all usernames before its attempts are *spaced*: at
      most one every ``address_spacing_seconds``, else 429 (a password spray crawls; a neighbour behind
      the same NAT waits seconds, not the whole window).
    """

    per_pair: int = 5
    per_username: int = 10
    per_address: int = 100
    window_seconds: int = 900
    address_spacing_seconds: int = 10


class LoginKeys(NamedTuple):
    """The three throttling keys of one login attempt."""

    pair: str
    username: str
    address: str

    @classmethod
    def of(cls, username: str, source_ip: str | None) -> LoginKeys:
        name, address = fold_name(username), source_ip or "unknown"
        return cls(pair=f"pair:{address}|{name}", username=f"user:{name}", address=f"ip:{address}")

    @property
    def all(self) -> list[str]:
        return [self.pair, self.username, self.address]


def _seconds_until(moment: datetime, now: datetime) -> int:
    return max(1, math.ceil((moment - now).total_seconds()))


def login_refusal(
    limits: LoginLimits, *, pair: LoginCounter, username: LoginCounter, address: LoginCounter, now: datetime
) -> int | None:
    """The seconds an attempt must wait under ``limits`` given its keys' counters, or None to let it through."""
    if pair.failures >= limits.per_pair and pair.window_ends:
        return _seconds_until(pair.window_ends, now)
    if username.failures >= limits.per_username and pair.failures > 0 and username.window_ends and pair.window_ends:
        # Protected: this address has failed for this username; it may try again once either window ends.
        return _seconds_until(min(username.window_ends, pair.window_ends), now)
    if address.failures >= limits.per_address and address.last_attempt is not None:
        next_slot = address.last_attempt.timestamp() + limits.address_spacing_seconds
        if next_slot > now.timestamp():
            return max(1, math.ceil(next_slot - now.timestamp()))
    return None


class Session(NamedTuple):
    user: UserRow
    token: str
    expires_in: int


USER_CHECK_SECONDS = 5.0
"""How long a container trusts that a token's user still exists after it last looked (see :meth:`authenticate`)."""
CHECKED_USERS = 1024
"""How many such users a container remembers."""


class AccountService:
    """Accounts over the store, tokens from one :class:`TokenService`; ``clock`` gives epoch seconds."""

    def __init__(
        self,
        store: Store,
        tokens: TokenService,
        limits: LoginLimits | None = None,
        clock: Callable[[], float] = time.time,
        live: Callable[[], LiveUpdates] | None = None,
        user_check_seconds: float = USER_CHECK_SECONDS,
    ) -> None:
        self._store = store
        self._tokens = tokens
        self._limits = limits or LoginLimits()
        self._clock = clock
        self._live = live
        self._user_check_seconds = user_check_seconds
        self._checked: dict[Identity, float] = {}  # identity -> when its user was last found, by the clock

    def register(
        self, username: str, password: str, *, email: str | None = None, nickname: str | None = None
    ) -> Session:
        """Create an account and sign it in; :class:`Conflict` when the name would pass for someone else's.

        Refused (409): a username taken in any letter case ("Alice" next to "alice"), a username that folds
        to another user's nickname (else bob, nicknamed "carol", would pass for the later user carol), and
        a nickname that folds to another user's username. The store checks again under a lock, so two
        racing registrations cannot both pass.
        """
        problem = self._store.name_conflict(username, nickname)
        if problem:
            raise Conflict(problem)
        user = self._store.create_user(username, hash_password(password), email=email, nickname=nickname)
        return self._session(user)

    def login(self, username: str, password: str, source_ip: str | None = None) -> Session:
        """Sign in; the same :class:`Unauthorized` (and the same time) for an unknown user or a bad password.

        Throttled by :class:`LoginLimits` over the folded username and the source address; a refused
        attempt raises :class:`TooManyAttempts` before the password is checked, so it learns nothing. An
        attempt counts as a failure until its password proves right; then its address's failures for
        this username are forgotten (an owner's own typos stop counting against them).
        """
        now = datetime.fromtimestamp(self._clock(), tz=UTC)
        keys, limits = LoginKeys.of(username, source_ip), self._limits

        def refusal(counters: dict[str, LoginCounter]) -> int | None:
            return login_refusal(
                limits,
                pair=counters[keys.pair],
                username=counters[keys.username],
                address=counters[keys.address],
                now=now,
            )

        wait = self._store.begin_login_attempt(keys.all, window_seconds=limits.window_seconds, now=now, refusal=refusal)
        if wait is not None:
            raise TooManyAttempts(wait)
        user = self._check_password(username, password)
        if user is None:
            raise Unauthorized("invalid username or password")
        self._store.forgive_login_attempt(
            keys.pair, [keys.username, keys.address], window_seconds=limits.window_seconds, now=now
        )
        return self._session(user)

    def _check_password(self, username: str, password: str) -> UserRow | None:
        credentials = self._store.get_credentials(username)
        if credentials is None:
            burn_password_check(password)
            return None
        if not verify_password(password, credentials.password_hash):
            return None
        if needs_rehash(credentials.password_hash):
            # A legacy scrypt hash (or older argon2 costs): replaced now that the password is known.
            self._store.set_password_hash(credentials.id, hash_password(password))
        return self._store.get_user(credentials.id)

    def delete_account(self, caller: Identity, password: str) -> None:
        """Delete the caller's account (the password confirms it) and close its open connections at once.

        :class:`Forbidden` for a wrong password. Groups the user owns pass to their longest-standing member.
        """
        credentials = self._store.get_credentials(caller.username)
        if (
            credentials is None
            or credentials.id != caller.user_id
            or not verify_password(password, credentials.password_hash)
        ):
            raise Forbidden("the password is not right")
        self._store.delete_user(caller.user_id)
        self._checked.pop(caller, None)
        if self._live is not None:
            try:
                self._live().close_user(caller.user_id)
            except Exception:  # the account is gone, so no frame can reach it: the sockets just linger
                logger.exception("could not close the deleted user's connections")

    def authenticate(self, authorization: str | None) -> Identity:
        """The identity behind an ``Authorization: Bearer`` header whose user still exists.

        A user found in the last :data:`USER_CHECK_SECONDS` is not looked up again, so the burst of requests of
        a page load costs one query, not one each (about 0.3 ms of every warm request). So a deleted account's
        tokens stop working at once in the container that deleted it and within that window elsewhere, reaching
        no room meanwhile: its memberships went with it, and every room action checks them.
        """
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthorized("missing bearer token")
        identity = self._tokens.verify(token.strip())
        now = self._clock()
        since = now - self._checked.get(identity, -math.inf)
        if 0 <= since < self._user_check_seconds:  # negative: the clock was set back, so look again
            return identity
        user = self._store.get_user(identity.user_id)
        if user is None or user.username != identity.username:
            self._checked.pop(identity, None)
            raise Unauthorized("user no longer exists")
        if len(self._checked) >= CHECKED_USERS:
            self._checked.clear()  # bounded: start over rather than track recency
        self._checked[identity] = now
        return identity

    def _session(self, user: UserRow) -> Session:
        token = self._tokens.issue(Identity(user_id=user.id, username=user.username))
        return Session(user=user, token=token, expires_in=self._tokens.ttl_seconds)
