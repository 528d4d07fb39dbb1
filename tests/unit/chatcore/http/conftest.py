"""Fixtures for handler-level tests of the REST function."""

from __future__ import annotations

import os
from collections.abc import Iterator

import psycopg
import pytest
from chat_local.postgres import EmbeddedPostgres
from chatcore.postgres.database import Database
from chatcore.postgres.store import ChatStore
from chatcore.tokens import TokenService

from tests.conftest import TOKEN_SECRET
from tests.helpers.handlers import load_handler
from tests.unit.chatcore.http.rest_support import Rest

_TABLES = "users, rooms, room_members, messages, user_tags, login_failures, attachments"


@pytest.fixture(scope="session")
def rest_database(pg_server: EmbeddedPostgres) -> str:
    """One migrated database for the REST handler tests, emptied before each test (faster than a copy each)."""
    return pg_server.create_database(f"rest_handlers_{os.getpid()}", template="chat_template")


@pytest.fixture
def rest_store(rest_database: str) -> Iterator[ChatStore]:
    """A store on the emptied REST test database (ids start at 1 again)."""
    with psycopg.connect(rest_database, autocommit=True) as conn:
        conn.execute(f"TRUNCATE {_TABLES} RESTART IDENTITY CASCADE")
    db = Database(rest_database)
    yield ChatStore(db)
    db.close()


@pytest.fixture
def rest(
    rest_database: str, rest_store: ChatStore, tokens: TokenService, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Rest]:
    """The REST handler loaded fresh (a cold container) and wired to the emptied test database."""
    monkeypatch.setenv("DATABASE_URL", rest_database)
    monkeypatch.setenv("TOKEN_SECRET", TOKEN_SECRET)
    for name in ("CONNECTIONS_TABLE", "TOKEN_SECRET_ARN", "DATABASE_SECRET_ARN", "TOKEN_TTL_SECONDS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")  # as the local stack runs it
    module = load_handler("rest")
    yield Rest(module, rest_store, tokens)
    module.services.cache_clear()  # drops the handler's services and their PostgreSQL connection
