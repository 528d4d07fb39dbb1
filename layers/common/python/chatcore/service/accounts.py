"""Registration, login and bearer-token authentication."""

from __future__ import annotations

from dataclasses import dataclass

from chatcore.errors import Conflict, TooManyAttempts, Unauthorized
from chatcore.passwords import burn_password_check, hash_password, verify_password
from chatcore.ports import Store
from chatcore.rows import UserRow
from chatcore.tokens import Identity, TokenService


@dataclass(frozen=True, slots=True)
class LoginLimits:
    """Failed logins allowed per window before further attempts are refused (429)."""

    per_username: int = 10
    per_address: int = 100
    window_seconds: int = 900


@dataclass(frozen=True, slots=True)
class Session:
    user: UserRow
    token: str
    expires_in: int


class AccountService:
    """Accounts over the store, tokens from one :class:`TokenService`."""

    def __init__(self, store: Store, tokens: TokenService, limits: LoginLimits | None = None) -> None:
        self._store = store
        self._tokens = tokens
        self._limits = limits or LoginLimits()

    def register(
        self, username: str, password: str, *, email: str | None = None, nickname: str | None = None
    ) -> Session:
        """Create an account and sign it in; :class:`Conflict` when the username is taken in any letter case.

        Case-insensitive so nobody can pose as "Alice" next to "alice"; the unique index on the exact
        name still settles two registrations racing for the same name.
        """
        if self._store.username_taken(username):
            raise Conflict("username is taken")
        user = self._store.create_user(username, hash_password(password), email=email, nickname=nickname)
        return self._session(user)

    def login(self, username: str, password: str, source_ip: str | None = None) -> Session:
        """Sign in; the same :class:`Unauthorized` (and the same time) for an unknown user or a bad password.

        Failures are counted per username and per source address; past either limit the login is
        refused with :class:`TooManyAttempts` before the password is even checked, so guessing learns
        nothing more until the window ends.
        """
        user_key = f"user:{username.lower()}"
        keys = [user_key] + ([f"ip:{source_ip}"] if source_ip else [])
        counts = self._store.login_failures(keys, self._limits.window_seconds)
        if counts[user_key] >= self._limits.per_username or (
            source_ip and counts[f"ip:{source_ip}"] >= self._limits.per_address
        ):
            raise TooManyAttempts(self._limits.window_seconds)
        user = self._check_password(username, password)
        if user is None:
            self._store.record_login_failure(keys, self._limits.window_seconds)
            raise Unauthorized("invalid username or password")
        if counts[user_key]:
            self._store.clear_login_failures(user_key)
        return self._session(user)

    def _check_password(self, username: str, password: str) -> UserRow | None:
        credentials = self._store.get_credentials(username)
        if credentials is None:
            burn_password_check(password)
            return None
        if not verify_password(password, credentials.password_hash):
            return None
        return self._store.get_user(credentials.id)

    def authenticate(self, authorization: str | None) -> Identity:
        """The identity behind an ``Authorization: Bearer`` header whose user still exists."""
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthorized("missing bearer token")
        identity = self._tokens.verify(token.strip())
        user = self._store.get_user(identity.user_id)
        if user is None or user.username != identity.username:
            raise Unauthorized("user no longer exists")
        return identity

    def _session(self, user: UserRow) -> Session:
        token = self._tokens.issue(Identity(user_id=user.id, username=user.username))
        return Session(user=user, token=token, expires_in=self._tokens.ttl_seconds)
