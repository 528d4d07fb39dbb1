"""Password hashing (scrypt, memory-hard) and signed session tokens (JWT, HS256)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

import jwt

from chatcore.errors import Unauthorized

# scrypt with N=2**14, r=8 uses 16 MiB per hash: memory-hard, and about 50 ms on a Lambda core.
_SCRYPT_N = 2**14
_SCRYPT_R = 8
_SCRYPT_P = 1
_SCRYPT_MAXMEM = 64 * 1024 * 1024
_SALT_BYTES = 16
_KEY_BYTES = 32
_SCHEME = "scrypt"

TOKEN_ALGORITHM = "HS256"  # noqa: S105 - an algorithm name, not a secret
DEFAULT_TOKEN_TTL_SECONDS = 12 * 3600


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(password.encode("utf-8"), salt=salt, n=n, r=r, p=p, maxmem=_SCRYPT_MAXMEM, dklen=_KEY_BYTES)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def hash_password(password: str) -> str:
    """Hash ``password`` with a fresh salt; the result records its own parameters."""
    salt = secrets.token_bytes(_SALT_BYTES)
    key = _scrypt(password, salt, _SCRYPT_N, _SCRYPT_R, _SCRYPT_P)
    return f"{_SCHEME}${_SCRYPT_N}${_SCRYPT_R}${_SCRYPT_P}${_b64(salt)}${_b64(key)}"


def verify_password(password: str, stored: str) -> bool:
    """True when ``password`` matches ``stored``; compares in constant time."""
    try:
        scheme, n, r, p, salt_b64, key_b64 = stored.split("$")
        if scheme != _SCHEME:
            return False
        expected = base64.b64decode(key_b64)
        actual = _scrypt(password, base64.b64decode(salt_b64), int(n), int(r), int(p))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(expected, actual)


# A real hash to check against when the user does not exist, so an unknown username costs the same
# time as a wrong password. Computed on first use, not at import.
_dummy_hash: str | None = None


def burn_password_check(password: str) -> None:
    """Spend the time of one password check, for logins with an unknown username."""
    global _dummy_hash
    if _dummy_hash is None:
        _dummy_hash = hash_password(secrets.token_urlsafe(16))
    verify_password(password, _dummy_hash)


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
