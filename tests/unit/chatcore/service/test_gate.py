"""``$connect``'s gate: a verified, still existing identity is bound to the connection; nothing else is."""

from __future__ import annotations

import time

import pytest
from chatcore.errors import Forbidden, Unauthorized
from chatcore.passwords import hash_password
from chatcore.postgres.store import ChatStore
from chatcore.service.gate import ConnectionGate
from chatcore.tokens import Identity, TokenService

from tests.conftest import TOKEN_SECRET


def test_connect_refuses_missing_forged_expired_and_deleted_identities(
    gate: ConnectionGate, store: ChatStore, tokens: TokenService
) -> None:
    """``connect`` binds a valid token's user and refuses every other token."""
    user = store.create_user("alice", hash_password("pw-for-tests"))
    identity = Identity(user.id, user.username)
    expired = TokenService(TOKEN_SECRET, clock=lambda: time.time() - 10 * 86400).issue(identity)
    forged = TokenService("another-secret-that-is-long-enough-0123456789").issue(identity)

    for bad in (None, "", "garbage", expired, forged):
        with pytest.raises(Unauthorized):
            gate.connect("c-bad", bad)
    record = gate.connect("c-good", tokens.issue(identity))
    assert (record.user_id, record.username) == (user.id, "alice")
    store.delete_user(user.id)
    with pytest.raises(Unauthorized):
        gate.connect("c-late", tokens.issue(identity))


def test_a_page_from_another_site_is_refused_before_the_token_is_read(
    store: ChatStore, registry: object, tokens: TokenService
) -> None:
    """With allowed origins set, a browser Origin outside them is Forbidden; no Origin (a non-browser) passes."""
    user = store.create_user("alice", hash_password("pw-for-tests"))
    gate = ConnectionGate(store, registry, tokens, allowed_origins=frozenset({"https://chat.example"}))  # type: ignore[arg-type]
    token = tokens.issue(Identity(user.id, user.username))
    with pytest.raises(Forbidden):
        gate.connect("c-evil", token, origin="https://evil.example")
    assert gate.connect("c-page", token, origin="https://chat.example").user_id == user.id
    assert gate.connect("c-cli", token, origin=None).user_id == user.id
