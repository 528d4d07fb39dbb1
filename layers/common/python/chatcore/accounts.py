"""Registration, login and bearer-token authentication."""

from __future__ import annotations

from dataclasses import dataclass

from chatcore.auth import Identity, TokenService, burn_password_check, hash_password, verify_password
from chatcore.errors import Conflict, Unauthorized
from chatcore.store import ChatStore, UserRow


@dataclass(frozen=True, slots=True)
class Session:
    user: UserRow
    token: str
    expires_in: int


class AccountService:
    """Accounts over the store, tokens from one :class:`TokenService`."""

    def __init__(self, store: ChatStore, tokens: TokenService) -> None:
        self._store = store
        self._tokens = tokens

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

    def login(self, username: str, password: str) -> Session:
        """Sign in; the same :class:`Unauthorized` (and the same time) for an unknown user or a bad password."""
        credentials = self._store.get_credentials(username)
        if credentials is None:
            burn_password_check(password)
            raise Unauthorized("invalid username or password")
        if not verify_password(password, credentials.password_hash):
            raise Unauthorized("invalid username or password")
        user = self._store.get_user(credentials.id)
        if user is None:
            raise Unauthorized("invalid username or password")
        return self._session(user)

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
