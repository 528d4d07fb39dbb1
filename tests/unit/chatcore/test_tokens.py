"""Session tokens (JWT HS256) with an injected clock: issued, verified, and every forgery refused."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import warnings
from typing import Any

import jwt
import pytest
from chatcore import tokens as tokens_module
from chatcore.errors import Unauthorized
from chatcore.rules import DEFAULT_TOKEN_TTL_SECONDS
from chatcore.tokens import DEFAULT_KEY_ID, Identity, TokenService

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


# ---------------------------------------------------------------- key ids and rotation

OLD_KEY = "old-signing-key-that-is-long-enough-0123456789"
NEW_KEY = "new-signing-key-that-is-long-enough-9876543210"


def _key_set(current: str, **keys: str) -> str:
    return json.dumps({"current": current, "keys": {kid.replace("_", "-"): key for kid, key in keys.items()}})


def test_a_plain_secret_signs_with_key_id_default() -> None:
    """A secret given as one plain key signs tokens with ``kid: default`` in the header."""
    token = TokenService(TOKEN_SECRET).issue(ALICE)
    assert jwt.get_unverified_header(token)["kid"] == DEFAULT_KEY_ID


def test_a_key_set_signs_with_its_current_key_and_names_it() -> None:
    """With a JSON key set, tokens are signed with the current key and carry its id."""
    service = TokenService(_key_set("2026-12", **{"2026_12": NEW_KEY, "2026_06": OLD_KEY}))
    token = service.issue(ALICE)
    assert jwt.get_unverified_header(token)["kid"] == "2026-12"
    assert jwt.decode(token, NEW_KEY, algorithms=["HS256"])["sub"] == "42"
    assert service.verify(token) == ALICE


def test_rotation_overlaps_old_and_new_keys_until_the_old_one_is_removed() -> None:
    """A token signed with the old key verifies while the old key is listed, and is refused once it is removed."""
    secret = [_key_set("2026-06", **{"2026_06": OLD_KEY})]
    service = TokenService(lambda: secret[0])  # the secret's current value, read on every use
    old_token = service.issue(ALICE)

    secret[0] = _key_set("2026-12", **{"2026_12": NEW_KEY, "2026_06": OLD_KEY})  # new key current, old listed
    new_token = service.issue(ALICE)
    assert jwt.get_unverified_header(new_token)["kid"] == "2026-12"
    assert service.verify(old_token) == ALICE
    assert service.verify(new_token) == ALICE

    secret[0] = _key_set("2026-12", **{"2026_12": NEW_KEY})  # the old key removed
    with pytest.raises(Unauthorized):
        service.verify(old_token)
    assert service.verify(new_token) == ALICE


def test_a_key_listed_before_it_becomes_current_verifies_early_tokens() -> None:
    """A key listed but not yet current already verifies tokens that another container signs with it."""
    listed = TokenService(_key_set("2026-06", **{"2026_06": OLD_KEY, "2026_12": NEW_KEY}))
    ahead = TokenService(_key_set("2026-12", **{"2026_12": NEW_KEY, "2026_06": OLD_KEY}))
    assert jwt.get_unverified_header(listed.issue(ALICE))["kid"] == "2026-06"
    assert listed.verify(ahead.issue(ALICE)) == ALICE


def test_a_token_verified_before_is_not_decoded_again(monkeypatch: pytest.MonkeyPatch) -> None:
    """The second check of a token does not run PyJWT's again (only its expiry is checked)."""
    service = TokenService(TOKEN_SECRET)
    token = service.issue(ALICE)
    assert service.verify(token) == ALICE

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("decoded again")

    monkeypatch.setattr(jwt, "decode", refuse)
    assert service.verify(token) == ALICE


def test_remembered_tokens_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    """However many distinct tokens arrive, a service remembers at most ``VERIFIED_TOKENS`` and verifies all."""
    monkeypatch.setattr(tokens_module, "VERIFIED_TOKENS", 3)
    service = TokenService(TOKEN_SECRET)
    issued = [service.issue(Identity(user_id=number, username=f"user{number}")) for number in range(10)]
    assert [service.verify(token).user_id for token in issued] == list(range(10))
    assert len(service._verified) <= 3


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({"kid": "2025-01"}, id="unlisted-kid"),
        pytest.param({"kid": 7}, id="kid-not-a-string"),
        pytest.param({"kid": ""}, id="empty-kid"),
    ],
)
def test_tokens_with_an_unknown_key_id_are_refused(headers: dict[str, Any]) -> None:
    """A token whose ``kid`` names no listed key is refused, even when its signature uses a listed key."""
    service = TokenService(_key_set("2026-12", **{"2026_12": NEW_KEY}))
    with pytest.raises(Unauthorized):
        service.verify(_hand_signed({"alg": "HS256", "typ": "JWT", **headers}, _claims(), NEW_KEY))


def _hand_signed(header: dict[str, Any], claims: dict[str, Any], key: str) -> str:
    """An HS256 JWS built by hand, so its header may hold what PyJWT would refuse to write."""

    def part(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    signing_input = f"{part(json.dumps(header).encode())}.{part(json.dumps(claims).encode())}"
    signature = hmac.new(key.encode(), signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{part(signature)}"


def test_hand_signed_tokens_with_a_listed_key_id_verify() -> None:
    """The hand-built tokens of the test above are genuine: with a listed ``kid`` they verify."""
    service = TokenService(_key_set("2026-12", **{"2026_12": NEW_KEY}))
    assert service.verify(_hand_signed({"alg": "HS256", "kid": "2026-12"}, _claims(), NEW_KEY)) == ALICE


def test_a_token_signed_with_one_listed_key_but_naming_another_is_refused() -> None:
    """The key is chosen by ``kid``: a signature made with another listed key does not verify."""
    service = TokenService(_key_set("2026-12", **{"2026_12": NEW_KEY, "2026_06": OLD_KEY}))
    with pytest.raises(Unauthorized):
        service.verify(jwt.encode(_claims(), OLD_KEY, algorithm="HS256", headers={"kid": "2026-12"}))


def test_tokens_without_a_key_id_verify_only_with_the_default_key() -> None:
    """A token issued before key ids (no ``kid``) verifies with the ``default`` key, and only while it is listed."""
    legacy = jwt.encode(_claims(), OLD_KEY, algorithm="HS256")
    assert "kid" not in jwt.get_unverified_header(legacy)
    assert TokenService(OLD_KEY).verify(legacy) == ALICE
    assert TokenService(_key_set("2026-12", **{"2026_12": NEW_KEY, "default": OLD_KEY})).verify(legacy) == ALICE
    with pytest.raises(Unauthorized):
        TokenService(_key_set("2026-12", **{"2026_12": NEW_KEY, "2026_06": OLD_KEY})).verify(legacy)


@pytest.mark.parametrize(
    ("secret", "problem"),
    [
        pytest.param('{"current": "a", "keys": {"a": ', "not valid JSON", id="broken-json"),
        pytest.param('{"current": "b", "keys": {"a": "' + OLD_KEY + '"}}', "current key id", id="current-unlisted"),
        pytest.param('{"current": "a", "keys": {}}', "no keys", id="no-keys"),
        pytest.param('{"current": "a", "keys": {"a": "short"}}', "at least 32", id="short-key"),
        pytest.param('{"current": "a", "keys": {"a": 42}}', "at least 32", id="key-not-a-string"),
        pytest.param('{"current": "a b", "keys": {"a b": "' + OLD_KEY + '"}}', "key id", id="kid-with-space"),
        pytest.param('{"keys": {"a": "' + OLD_KEY + '"}}', "JSON must be", id="no-current"),
        pytest.param('{"current": "a", "keys": ["' + OLD_KEY + '"]}', "JSON must be", id="keys-not-an-object"),
        pytest.param("{" + '"a":' * 50_000, "not valid JSON", id="json-too-deep"),
    ],
)
def test_malformed_key_sets_are_refused_without_showing_a_key(secret: str, problem: str) -> None:
    """A key set that is not valid JSON, lacks its current key or holds a short key cannot build a token service."""
    with pytest.raises(ValueError, match=problem) as refused:
        TokenService(secret)
    assert OLD_KEY not in str(refused.value)
