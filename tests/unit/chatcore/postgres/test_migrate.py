"""SQL migrations applied to fresh, empty databases on the embedded PostgreSQL."""

from __future__ import annotations

import itertools
import os
import threading

import psycopg
import pytest
from chat_local.postgres import EmbeddedPostgres
from chatcore.fields import fold_name
from chatcore.postgres.migrate import apply_migrations, migration_files

_numbers = itertools.count()
TABLES = {"users", "rooms", "room_members", "messages", "user_tags", "schema_migrations"}


@pytest.fixture
def empty_database(pg_server: EmbeddedPostgres) -> str:
    """A new database with no schema at all."""
    return pg_server.create_database(f"migrate_{os.getpid()}_{next(_numbers)}")


def _tables(url: str) -> set[str]:
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'").fetchall()
    return {r[0] for r in rows}


def _recorded(url: str) -> list[str]:
    with psycopg.connect(url) as conn:
        return [r[0] for r in conn.execute("SELECT name FROM schema_migrations ORDER BY name")]


def test_migrations_are_shipped_in_order() -> None:
    """The layer ships its .sql migrations, sorted by file name, the first creating the schema."""
    names = [name for name, _sql in migration_files()]
    assert names and names == sorted(names)
    assert names[0] == "0001_initial.sql"
    assert all(sql.strip() for _name, sql in migration_files())


def test_applying_twice_applies_nothing_the_second_time(empty_database: str) -> None:
    """The first run applies every migration and records it; the second finds nothing to do."""
    names = [name for name, _sql in migration_files()]
    assert apply_migrations(empty_database) == names
    assert _tables(empty_database) >= TABLES
    assert _recorded(empty_database) == names
    assert apply_migrations(empty_database) == []
    assert _recorded(empty_database) == names


def test_concurrent_appliers_apply_each_migration_once(empty_database: str) -> None:
    """Two starters migrating the same database at once apply every migration exactly once between them."""
    barrier = threading.Barrier(2)
    applied: list[list[str]] = []
    errors: list[BaseException] = []

    def apply() -> None:
        try:
            barrier.wait(5)
            applied.append(apply_migrations(empty_database))
        except BaseException as exc:  # reported below; a thread's failure must fail the test
            errors.append(exc)

    threads = [threading.Thread(target=apply) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    names = [name for name, _sql in migration_files()]
    assert errors == []
    assert sorted(applied, key=len) == [[], names]
    assert _recorded(empty_database) == names


def _migrate_before(url: str, first_not_applied: str) -> None:
    """Apply (and record) the migrations whose names sort before ``first_not_applied``, as an older release did."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE schema_migrations (name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
        )
        for name, sql in migration_files():
            if name < first_not_applied:
                conn.execute(sql.encode())
                conn.execute("INSERT INTO schema_migrations (name) VALUES (%s)", (name,))


# Nicknames whose folded form is ASCII: the migration's SQL must fold them exactly as fold_name does.
_ASCII_FOLDING = [
    "Al",
    "ALBERT",
    "Stra\u00dfe",
    "STRA\u1e9eE",
    "\u212aelvin",
    "\uff26ull",
    "\ufb01nance",
    "\u017fam",
    "Jo\u200dey",
]


def test_nickname_keys_are_backfilled_and_impersonating_nicknames_cleared(empty_database: str) -> None:
    """Migration 0005 gives every nickname its folded key and clears nicknames that pass for another username."""
    _migrate_before(empty_database, "0005")
    with psycopg.connect(empty_database, autocommit=True) as conn:
        for i, nickname in enumerate(_ASCII_FOLDING):
            conn.execute(
                "INSERT INTO users (username, password_hash, nickname) VALUES (%s, 'h', %s)", (f"u{i}", nickname)
            )
        conn.execute("INSERT INTO users (username, password_hash) VALUES ('alice', 'h'), ('strasse', 'h')")
        conn.execute(
            "INSERT INTO users (username, password_hash, nickname) VALUES"
            " ('bob', 'h', 'ALICE'), ('dave', 'h', %s), ('erin', 'h', %s)",
            ("\uff24ave", "Alice\u00e9"),
        )

    assert apply_migrations(empty_database)[0] == "0005_nickname_keys.sql"

    with psycopg.connect(empty_database) as conn:
        rows: dict[str, tuple[str | None, str | None]] = {
            r[0]: (r[1], r[2]) for r in conn.execute("SELECT username, nickname, nickname_key FROM users")
        }
        indexes = {r[0] for r in conn.execute("SELECT indexname FROM pg_indexes WHERE tablename = 'users'")}
    for i, nickname in enumerate(_ASCII_FOLDING):
        if fold_name(nickname) == "strasse":
            assert rows[f"u{i}"] == (None, None), nickname  # it passed for the user "strasse"
        else:
            assert rows[f"u{i}"] == (nickname, fold_name(nickname)), nickname
    assert rows["bob"] == (None, None)  # "ALICE" passed for alice
    assert rows["dave"] == ("\uff24ave", "dave")  # one's own username is fine
    assert rows["erin"] == ("Alice\u00e9", fold_name("Alice\u00e9"))
    assert rows["alice"] == (None, None)
    assert "users_nickname_key_idx" in indexes
