"""Session tokens (JWT HS256) with an injected clock: issued, verified, and every forgery refused."""

from __future__ import annotations

import time
import warnings
from typing import Any

import jwt
import pytest
from chatcore.errors import Unauthorized
from chatcore.tokens import DEFAULT_TOKEN_TTL_SECONDS, Identity, TokenService

from tests.conftest import TOKEN_SECRET

ALICE = Identity(user_id=42, username="alice")


class Clock:
    """A settable clock, in epoch seconds."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


# ---------------------------------------------------------------- passwords


def test_issued_token_verifies_to_the_same_identity(tokens: TokenService) -> None:
    """A token issued for a user verifies back to that user's id and name."""
    assert tokens.verify(tokens.issue(ALICE)) == ALICE


def test_token_carries_standard_claims_and_the_default_lifetime() -> None:
    """The token is HS256 with sub, username, iat and exp = iat + the lifetime."""
    clock = Clock(time.time())
    token = TokenService(TOKEN_SECRET, clock=clock).issue(ALICE)
    assert jwt.get_unverified_header(token)["alg"] == "HS256"
    claims = jwt.decode(token, TOKEN_SECRET, algorithms=["HS256"])
    assert claims["sub"] == "42" and claims["username"] == "alice"
    assert claims["iat"] == int(clock.now)
    assert claims["exp"] - claims["iat"] == DEFAULT_TOKEN_TTL_SECONDS


def test_expiry_follows_the_injected_clock() -> None:
    """A token is valid until its lifetime has passed on the service's clock, then refused as expired."""
    clock = Clock(1_000_000.0)  # long ago in real time: only the injected clock decides
    service = TokenService(TOKEN_SECRET, ttl_seconds=60, clock=clock)
    token = service.issue(ALICE)
    clock.now += 59
    assert service.verify(token) == ALICE
    clock.now += 1
    with pytest.raises(Unauthorized, match="expired"):
        service.verify(token)


@pytest.mark.parametrize("token", [None, ""], ids=["none", "empty"])
def test_missing_token_is_refused(tokens: TokenService, token: str | None) -> None:
    """No token at all is Unauthorized."""
    with pytest.raises(Unauthorized, match="missing"):
        tokens.verify(token)


def _claims(**changes: Any) -> dict[str, Any]:
    now = int(time.time())
    claims: dict[str, Any] = {"sub": "42", "username": "alice", "iat": now, "exp": now + 3600}
    claims.update(changes)
    return {k: v for k, v in claims.items() if v is not None}


def _sign(key: str, algorithm: str) -> str:
    with warnings.catch_warnings():  # PyJWT warns that our 50-byte key is short for HS384/HS512
        warnings.simplefilter("ignore")
        return jwt.encode(_claims(), key, algorithm=algorithm)


@pytest.mark.parametrize(
    "token",
    [
        pytest.param(_sign("", "none"), id="alg-none"),
        pytest.param(_sign(TOKEN_SECRET, "HS512"), id="hs512-same-key"),
        pytest.param(_sign(TOKEN_SECRET, "HS384"), id="hs384-same-key"),
        pytest.param(
            jwt.encode(_claims(), "another-secret-that-is-also-long-enough!", algorithm="HS256"), id="other-key"
        ),
        pytest.param(jwt.encode(_claims(), TOKEN_SECRET, algorithm="HS256")[:-3] + "abc", id="tampered-signature"),
        pytest.param("not.a.jwt", id="garbage"),
        pytest.param("x" * 5000, id="long-garbage"),
    ],
)
def test_forged_tokens_are_refused(tokens: TokenService, token: str) -> None:
    """Unsigned, other-algorithm, other-key, tampered and garbage tokens are Unauthorized."""
    with pytest.raises(Unauthorized):
        tokens.verify(token)


def test_payload_changed_under_a_valid_signature_is_refused(tokens: TokenService) -> None:
    """Swapping the payload of a genuine token (to become another user) breaks the signature."""
    header, _payload, signature = tokens.issue(ALICE).split(".")
    _h, forged_payload, _s = jwt.encode(_claims(sub="1", username="admin"), "x" * 40, algorithm="HS256").split(".")
    with pytest.raises(Unauthorized):
        tokens.verify(f"{header}.{forged_payload}.{signature}")


@pytest.mark.parametrize(
    "claims",
    [
        pytest.param(_claims(sub=None), id="no-sub"),
        pytest.param(_claims(username=None), id="no-username"),
        pytest.param(_claims(exp=None), id="no-exp"),
        pytest.param(_claims(iat=None), id="no-iat"),
        pytest.param(_claims(sub="alice"), id="sub-not-number"),
        pytest.param(_claims(username=42), id="username-not-string"),
        pytest.param(_claims(exp="tomorrow"), id="exp-not-number"),
    ],
)
def test_tokens_with_missing_or_bad_claims_are_refused(tokens: TokenService, claims: dict[str, Any]) -> None:
    """A correctly signed token without every claim, or with ill-typed ones, is Unauthorized."""
    with pytest.raises(Unauthorized):
        tokens.verify(jwt.encode(claims, TOKEN_SECRET, algorithm="HS256"))


@pytest.mark.parametrize("secret", ["", "short", "x" * 31, b"y" * 31], ids=["empty", "short", "31-chars", "31-bytes"])
def test_short_signing_secret_is_refused(secret: str | bytes) -> None:
    """A signing secret under 32 characters cannot build a token service."""
    with pytest.raises(ValueError, match="32"):
        TokenService(secret)


def test_secret_of_32_characters_is_enough() -> None:
    """Exactly 32 characters is accepted, and tokens from another secret do not verify with it."""
    service = TokenService("k" * 32)
    assert service.verify(service.issue(ALICE)) == ALICE
    with pytest.raises(Unauthorized):
        TokenService("j" * 32).verify(service.issue(ALICE))
