"""Fixtures for handler-level tests of the functions."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from chatcore.auth import TokenService
from chatcore.store import ChatStore

from tests.conftest import TOKEN_SECRET
from tests.helpers.handlers import load_handler
from tests.unit.functions.rest_support import Rest


@pytest.fixture
def rest(database_url: str, store: ChatStore, tokens: TokenService, monkeypatch: pytest.MonkeyPatch) -> Iterator[Rest]:
    """The REST handler wired to a fresh test database, as Lambda would load it."""
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("TOKEN_SECRET", TOKEN_SECRET)
    for name in ("CONNECTIONS_TABLE", "TOKEN_SECRET_ARN", "DATABASE_SECRET_ARN", "TOKEN_TTL_SECONDS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "chat-tests")
    module = load_handler("rest")
    yield Rest(module, store, tokens)
    module.services.cache_clear()  # closes the handler's PostgreSQL connection with its store
