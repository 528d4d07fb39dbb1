"""Signed session tokens (JWT, HS256) and the identity they carry, with key ids for key rotation.

The signing secret is either one key (a plain string: its key id is ``default``) or a key set, as JSON::

    {"current": "2026-12", "keys": {"2026-12": "<48+ random characters>", "2026-06": "<the previous key>"}}

Tokens are signed with the current key and carry its id in the header (``kid``); verification picks the
key by that id, so a token signed with an older key verifies for as long as that key is listed, and an
unknown id is refused. A token without ``kid`` (issued before key ids) is checked against the ``default``
key only. The rotation procedure is in SECURITY.md and infra/README.md.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

from chatcore.errors import Unauthorized
from chatcore.rules import DEFAULT_TOKEN_TTL_SECONDS

TOKEN_ALGORITHM = "HS256"  # noqa: S105 - an algorithm name, not a secret
DEFAULT_KEY_ID = "default"
"""The key id of a signing secret given as one plain key (and of tokens issued before key ids)."""
MIN_KEY_LENGTH = 32
VERIFIED_TOKENS = 1024
"""How many verified tokens a :class:`TokenService` remembers (a warm REST container sees the same few again)."""
_KEY_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


class Identity(NamedTuple):
    """Who is behind a token or a connection."""

    user_id: int
    username: str


@dataclass(frozen=True, slots=True)
class SigningKeys:
    """The keys tokens may be signed with, by key id; new tokens are signed with ``current``."""

    current: str
    keys: Mapping[str, str | bytes]

    def __post_init__(self) -> None:
        if not self.keys:
            raise ValueError("token signing secret: no keys")
        for key_id, key in self.keys.items():
            if not isinstance(key_id, str) or not _KEY_ID.fullmatch(key_id):
                raise ValueError("token signing secret: a key id must be 1-64 letters, digits or . _ : -")
            if not isinstance(key, str | bytes) or len(key) < MIN_KEY_LENGTH:
                raise ValueError(
                    f"token signing secret must be at least {MIN_KEY_LENGTH} characters (key id {key_id!r})"
                )
        if self.current not in self.keys:
            raise ValueError("token signing secret: the current key id is not among the keys")

    @classmethod
    def parse(cls, secret: str | bytes) -> SigningKeys:
        """One plain key (id ``default``), or the JSON key set ``{"current": id, "keys": {id: key, ...}}``.

        Raises :class:`ValueError` naming what is wrong, never showing a key.
        """
        if isinstance(secret, str) and secret.lstrip().startswith("{"):
            try:
                data: Any = json.loads(secret)
            except (ValueError, RecursionError):
                raise ValueError("token signing secret: not valid JSON") from None
            if not isinstance(data, dict) or set(data) != {"current", "keys"}:
                raise ValueError('token signing secret: JSON must be {"current": id, "keys": {id: key}}')
            keys, current = data["keys"], data["current"]
            if not isinstance(keys, dict) or not isinstance(current, str):
                raise ValueError('token signing secret: JSON must be {"current": id, "keys": {id: key}}')
            return cls(current=current, keys=dict(keys))
        return cls(current=DEFAULT_KEY_ID, keys={DEFAULT_KEY_ID: secret})


SecretSource = str | bytes | SigningKeys | Callable[[], str | bytes]
"""A signing secret, a parsed key set, or a function returning the secret's current value (read on every
use, so a rotated secret reaches a warm container when its cache refreshes)."""


class TokenService:
    """Issues and verifies session tokens signed with the current key of a key set."""

    def __init__(
        self,
        secret: SecretSource,
        ttl_seconds: int = DEFAULT_TOKEN_TTL_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._source: Callable[[], str | bytes] | None = None
        self._raw: str | bytes | None = None
        if isinstance(secret, SigningKeys):
            self._keys = secret
        elif callable(secret):
            self._source, self._raw = secret, secret()
            self._keys = SigningKeys.parse(self._raw)
        else:
            self._raw, self._keys = secret, SigningKeys.parse(secret)
        self._ttl = ttl_seconds
        self._clock = clock
        # token -> (identity, expiry) of tokens whose signature and claims were checked against ``self._keys``:
        # the same string always carries the same claims, so only the expiry needs checking again.
        self._verified: dict[str, tuple[Identity, int]] = {}

    def _current_keys(self) -> SigningKeys:
        """The key set, re-read from the source (parsed again only when its value changed)."""
        if self._source is not None:
            raw = self._source()
            if raw != self._raw:
                self._keys = SigningKeys.parse(raw)
                self._raw = raw
                self._verified.clear()  # a key may have been removed: check every token again
        return self._keys

    @property
    def ttl_seconds(self) -> int:
        return self._ttl

    def issue(self, identity: Identity) -> str:
        """A token for ``identity``, signed with the current key, that expires after the configured lifetime."""
        import jwt  # here, not at import: the functions that never see a token (frames, $disconnect) skip it

        keys = self._current_keys()
        now = int(self._clock())
        claims = {
            "sub": str(identity.user_id),
            "username": identity.username,
            "iat": now,
            "exp": now + self._ttl,
        }
        return jwt.encode(claims, keys.keys[keys.current], algorithm=TOKEN_ALGORITHM, headers={"kid": keys.current})

    def verify(self, token: str | None) -> Identity:
        """The identity in ``token``; raises :class:`Unauthorized` if missing, forged, expired or signed with a
        key that is not (or no longer) listed.

        A token verified before under the same key set is not decoded again (PyJWT's checks cost about 0.1 ms
        of every warm REST request); its expiry is.
        """
        if not token:
            raise Unauthorized("missing token")
        keys = self._current_keys()
        known = self._verified.get(token)
        identity, expiry = known if known is not None else self._decode(token, keys)
        if expiry <= self._clock():
            raise Unauthorized("expired token")
        if known is None:
            if len(self._verified) >= VERIFIED_TOKENS:
                self._verified.clear()  # bounded: start over rather than track recency
            self._verified[token] = (identity, expiry)
        return identity

    @staticmethod
    def _decode(token: str, keys: SigningKeys) -> tuple[Identity, int]:
        """The identity and expiry of ``token`` if its signature and claims check out against ``keys``."""
        import jwt

        try:
            key_id = jwt.get_unverified_header(token).get("kid", DEFAULT_KEY_ID)
            key = keys.keys.get(key_id) if isinstance(key_id, str) else None
            if key is None:
                raise Unauthorized("unknown signing key")
            claims = jwt.decode(
                token,
                key,
                algorithms=[TOKEN_ALGORITHM],  # pinned: refuses "none" and any other algorithm
                # Expiry is checked by the caller against our clock, so tests can move time.
                options={"require": ["sub", "exp", "iat", "username"], "verify_exp": False},
            )
            user_id = int(claims["sub"])
            username = claims["username"]
        except (jwt.PyJWTError, ValueError, TypeError, KeyError, AttributeError):
            raise Unauthorized("invalid token") from None
        expiry = claims["exp"]
        if not isinstance(username, str) or not isinstance(expiry, int) or isinstance(expiry, bool):
            raise Unauthorized("invalid token")
        return Identity(user_id=user_id, username=username), expiry
