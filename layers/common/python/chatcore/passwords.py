"""Password hashing: argon2id with OWASP's parameters, legacy scrypt hashes verified until they are rehashed,
and an equal-cost check for unknown users.

Every new hash is argon2id with m=19 MiB, t=2, p=1 (OWASP Password Storage Cheat Sheet's first
configuration; about 60 ms on one core). Hashes made before (scrypt, N=2^14) still verify, and
:func:`needs_rehash` tells the login to replace them with argon2id once the user's password is known.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from argon2 import PasswordHasher

ARGON2_TIME_COST = 2
ARGON2_MEMORY_KIB = 19 * 1024
ARGON2_PARALLELISM = 1
_ARGON2_PREFIX = "$argon2id$"
# A stored hash asking for more than this is refused rather than computed (a corrupt row must not make a
# login allocate gigabytes).
_ARGON2_MAX_MEMORY_KIB = 256 * 1024
_ARGON2_MAX_TIME_COST = 16
_ARGON2_MAX_PARALLELISM = 8


@cache
def _hasher() -> PasswordHasher:
    # argon2 (and its cffi bindings) is imported on the first password check, not with this module: the REST
    # function serves every route but register, login and password changes without it (about 3 ms of its cold
    # start).
    from argon2 import PasswordHasher, Type

    return PasswordHasher(
        time_cost=ARGON2_TIME_COST,
        memory_cost=ARGON2_MEMORY_KIB,
        parallelism=ARGON2_PARALLELISM,
        hash_len=32,
        salt_len=16,
        type=Type.ID,
    )


# The legacy scheme: scrypt with N=2**14, r=8 (16 MiB). Verified, never written.
_SCRYPT_MAXMEM = 64 * 1024 * 1024
_SCRYPT_KEY_BYTES = 32
_SCRYPT_SCHEME = "scrypt"


def hash_password(password: str) -> str:
    """An argon2id hash of ``password`` with a fresh salt; the result records its own parameters."""
    return _hasher().hash(password)


def verify_password(password: str, stored: str) -> bool:
    """True when ``password`` matches ``stored`` (argon2id, or a legacy scrypt hash); never raises."""
    if stored.startswith(_ARGON2_PREFIX):
        return _verify_argon2(stored, password)
    if stored.startswith(f"{_SCRYPT_SCHEME}$"):
        return _verify_scrypt(password, stored)
    return False


def needs_rehash(stored: str) -> bool:
    """True when ``stored`` is not an argon2id hash with the current parameters (a legacy scrypt hash, or
    argon2id made with other costs): the login replaces it once it has checked the password."""
    if not stored.startswith(_ARGON2_PREFIX):
        return True
    hasher = _hasher()
    from argon2 import exceptions as argon2_errors  # loaded by _hasher()

    try:
        return hasher.check_needs_rehash(stored)
    except (argon2_errors.InvalidHashError, ValueError):
        return True


def _verify_argon2(stored: str, password: str) -> bool:
    """The one place an argon2id hash is computed to check a password (tests count the calls here)."""
    hasher = _hasher()
    from argon2 import exceptions as argon2_errors  # loaded by _hasher()
    from argon2 import extract_parameters

    try:
        parameters = extract_parameters(stored)
        if (
            parameters.memory_cost > _ARGON2_MAX_MEMORY_KIB
            or parameters.time_cost > _ARGON2_MAX_TIME_COST
            or parameters.parallelism > _ARGON2_MAX_PARALLELISM
        ):
            return False
        return hasher.verify(stored, password)
    except (argon2_errors.VerificationError, argon2_errors.InvalidHashError, ValueError, TypeError):
        return False


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(
        password.encode("utf-8"), salt=salt, n=n, r=r, p=p, maxmem=_SCRYPT_MAXMEM, dklen=_SCRYPT_KEY_BYTES
    )


def _verify_scrypt(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt_b64, key_b64 = stored.split("$")
        if scheme != _SCRYPT_SCHEME:
            return False
        expected = base64.b64decode(key_b64)
        actual = _scrypt(password, base64.b64decode(salt_b64), int(n), int(r), int(p))
    except (ValueError, TypeError, OverflowError):
        return False
    return hmac.compare_digest(expected, actual)


def legacy_scrypt_hash(password: str) -> str:
    """A hash in the legacy scrypt format (N=2^14, r=8, p=1), as stored before argon2id: for tests and tools
    that need one; the chat itself never writes these."""
    salt = secrets.token_bytes(16)
    key = _scrypt(password, salt, 2**14, 8, 1)
    encode = base64.b64encode
    return f"{_SCRYPT_SCHEME}${2**14}$8$1${encode(salt).decode()}${encode(key).decode()}"


# A real argon2id hash to check against when the user does not exist, so an unknown username costs the
# same time as a wrong password. Computed on first use, not at import.
_dummy_hash: str | None = None


def burn_password_check(password: str) -> None:
    """Spend the time of one password check (argon2id, current parameters), for logins with an unknown username."""
    global _dummy_hash
    if _dummy_hash is None:
        _dummy_hash = hash_password(secrets.token_urlsafe(16))
    _verify_argon2(_dummy_hash, password)
