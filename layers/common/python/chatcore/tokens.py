"""Signed session tokens (JWT, HS256) and the identity they carry."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import jwt

from chatcore.errors import Unauthorized

TOKEN_ALGORITHM = "HS256"  # noqa: S105 - an algorithm name, not a secret
DEFAULT_TOKEN_TTL_SECONDS = 12 * 3600


@dataclass(frozen=True, slots=True)
class Identity:
    """Who is behind a token or a connection."""

    user_id: int
    username: str


class TokenService:
    """Issues and verifies session tokens signed with one shared secret."""

    def __init__(
        self,
        secret: str | bytes,
        ttl_seconds: int = DEFAULT_TOKEN_TTL_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if len(secret) < 32:
            raise ValueError("token signing secret must be at least 32 characters")
        self._secret = secret
        self._ttl = ttl_seconds
        self._clock = clock

    @property
    def ttl_seconds(self) -> int:
        return self._ttl

    def issue(self, identity: Identity) -> str:
        """A token for ``identity`` that expires after the configured lifetime."""
        now = int(self._clock())
        claims = {
            "sub": str(identity.user_id),
            "username": identity.username,
            "iat": now,
            "exp": now + self._ttl,
        }
        return jwt.encode(claims, self._secret, algorithm=TOKEN_ALGORITHM)

    def verify(self, token: str | None) -> Identity:
        """The identity in ``token``; raises :class:`Unauthorized` if missing, forged or expired."""
        if not token:
            raise Unauthorized("missing token")
        try:
            claims = jwt.decode(
                token,
                self._secret,
                algorithms=[TOKEN_ALGORITHM],  # pinned: refuses "none" and any other algorithm
                # Expiry is checked below against our clock, so tests can move time.
                options={"require": ["sub", "exp", "iat", "username"], "verify_exp": False},
            )
            user_id = int(claims["sub"])
            username = claims["username"]
        except (jwt.PyJWTError, ValueError, TypeError, KeyError):
            raise Unauthorized("invalid token") from None
        if not isinstance(username, str) or not isinstance(claims["exp"], int):
            raise Unauthorized("invalid token")
        if claims["exp"] <= self._clock():
            raise Unauthorized("expired token")
        return Identity(user_id=user_id, username=username)
