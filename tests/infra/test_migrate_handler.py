"""functions/migrate: the deploy-time step applies the layer's SQL migrations once."""

from __future__ import annotations

import itertools

import psycopg
import pytest
from chat_local.postgres import EmbeddedPostgres
from chatcore.postgres.migrate import migration_files

from tests.helpers.handlers import context, load_handler

_names = itertools.count()


def test_migrate_handler_applies_pending_migrations_then_nothing(
    pg_server: EmbeddedPostgres, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On an empty database it applies every migration and returns their names; a rerun applies none."""
    name = f"migrate_{next(_names)}"
    with psycopg.connect(pg_server.url_for("postgres"), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    monkeypatch.setenv("DATABASE_URL", pg_server.url_for(name))
    handler = load_handler("migrate")

    first = handler.handler({}, context("migrate"))
    again = handler.handler({}, context("migrate"))

    assert first == {"applied": [n for n, _sql in migration_files()]}
    assert again == {"applied": []}
