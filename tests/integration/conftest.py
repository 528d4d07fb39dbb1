"""A running local stack (``chat-local`` as a child process) against the session's PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from chat_local.postgres import EmbeddedPostgres

from tests.helpers.clients import Api, ChatClient
from tests.helpers.stack import StackProcess


@pytest.fixture(scope="session")
def stack_database(pg_server: EmbeddedPostgres) -> str:
    with psycopg.connect(pg_server.url_for("postgres"), autocommit=True) as conn:
        conn.execute('CREATE DATABASE "stack" TEMPLATE chat_template')
    return pg_server.url_for("stack")


@pytest.fixture(scope="session")
def stack(tmp_root: Path, stack_database: str) -> Iterator[StackProcess]:
    """``chat-local`` using the test PostgreSQL through ``DATABASE_URL`` (so tests can stop it)."""
    process = StackProcess(
        tmp_root / "stack-data",
        # Prune runs only when a test triggers it, and then checks every connection.
        "--prune-interval",
        "3600",
        "--prune-stale-after",
        "0",
        env={"DATABASE_URL": stack_database},
        log_path=tmp_root / "stack.log",
    ).start()
    yield process
    process.stop()


@pytest.fixture
def api(stack: StackProcess) -> Api:
    return Api(stack.api_url)


@pytest.fixture
def clients(stack: StackProcess) -> Iterator[list[ChatClient]]:
    """Open WebSocket clients made by the test, closed after it."""
    opened: list[ChatClient] = []
    yield opened
    for client in opened:
        client.close()
