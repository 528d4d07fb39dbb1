"""Fixtures of the store tests: users with an opaque password hash (hashing itself is tested elsewhere)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from chatcore.postgres.store import ChatStore
from chatcore.rows import UserRow

HASH = "scrypt$16384$8$1$c2FsdA==$a2V5"
"""Any string: the store keeps password hashes opaque."""


@pytest.fixture
def user(store: ChatStore) -> Callable[..., UserRow]:
    def make(username: str, nickname: str | None = None) -> UserRow:
        return store.create_user(username, HASH, nickname=nickname)

    return make
