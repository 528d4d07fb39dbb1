"""Migration 0004: the chat_app role the functions use can read and write rows, and change nothing else."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import psycopg
import pytest
from chatcore.composition import APP_ROLE
from chatcore.postgres.database import Database
from chatcore.postgres.store import ChatStore
from psycopg import errors as pg_errors

from tests.unit.chatcore.postgres.conftest import HASH


def _as_app_role(database_url: str) -> str:
    """The same database, with every session switched to chat_app at start (the superuser may do that)."""
    return f"{database_url}?options=-c%20role%3D{APP_ROLE}"


@pytest.fixture
def app_store(database_url: str) -> Iterator[ChatStore]:
    db = Database(_as_app_role(database_url))
    yield ChatStore(db)
    db.close()


def test_the_role_cannot_log_in_until_the_migrate_step_gives_it_a_password(database_url: str) -> None:
    """The migration creates chat_app NOLOGIN, without superuser, role-creation or database-creation rights."""
    with psycopg.connect(database_url) as conn:
        row = conn.execute(
            "SELECT rolcanlogin, rolsuper, rolcreaterole, rolcreatedb, rolbypassrls FROM pg_roles WHERE rolname = %s",
            (APP_ROLE,),
        ).fetchone()
    assert row == (False, False, False, False, False)


def test_the_role_does_everything_the_store_does(app_store: ChatStore) -> None:
    """As chat_app the store inserts, reads, updates and deletes in every table the chat uses."""
    with app_store._db.connection() as conn:
        assert conn.execute("SELECT current_user").fetchone() == (APP_ROLE,)
    alice = app_store.create_user("alice", HASH, nickname="Al")
    bob = app_store.create_user("bob", HASH)
    assert app_store.update_profile(alice.id, {"nickname": "Alice"}).nickname == "Alice"
    room = app_store.create_group("general", private=False, created_by=alice.id)
    assert app_store.add_member(room.id, bob.id)
    saved = app_store.save_message(room.id, bob.id, "hello", "c-1")
    conversations, more = app_store.conversations_page(alice.id)  # a function (0010): EXECUTE granted
    assert ([c.id for c in conversations], conversations[0].unread, more) == ([room.id], 1, False)
    assert app_store.mark_read(room.id, alice.id, saved.message.id) is not None
    assert [m.content for m in app_store.latest_messages(room.id, 10)[0]] == ["hello"]
    direct = app_store.get_or_create_direct(alice.id, bob.id)
    assert app_store.get_or_create_direct(bob.id, alice.id).id == direct.id
    assert app_store.add_tag(alice.id, "python")
    assert app_store.remove_tag(alice.id, "python")
    now = datetime.now(UTC)
    keys = ["user:alice", "ip:127.0.0.1"]
    assert app_store.begin_login_attempt(keys, window_seconds=60, now=now, refusal=lambda _counters: None) is None
    assert app_store.login_counters(keys, window_seconds=60, now=now)["user:alice"].failures == 1
    app_store.forgive_login_attempt("user:alice", ["ip:127.0.0.1"], window_seconds=60, now=now)
    assert app_store.login_counters(keys, window_seconds=60, now=now)["user:alice"].failures == 0
    app_store.ban(room.id, bob.id, by=alice.id)  # the tables of later migrations too (default privileges)
    assert app_store.is_banned(room.id, bob.id)
    app_store.unban(room.id, bob.id)
    assert app_store.update_group(room.id, name="renamed", description="d") is not None
    assert app_store.remove_member(room.id, bob.id)
    assert app_store.delete_room(room.id)


@pytest.mark.parametrize(
    "statement",
    [
        "DROP TABLE messages",
        "CREATE TABLE intruder (id int)",
        "TRUNCATE messages",
        "ALTER TABLE users ADD COLUMN is_admin boolean",
        "ALTER TABLE users DROP COLUMN password_hash",
        "CREATE INDEX intruder_idx ON messages (content)",
        "CREATE FUNCTION intruder() RETURNS int LANGUAGE sql AS 'SELECT 1'",
        "ALTER ROLE chat_app SUPERUSER",
        "CREATE ROLE intruder LOGIN",
        "INSERT INTO schema_migrations (name) VALUES ('9999_fake.sql')",
        "DELETE FROM schema_migrations",
    ],
)
def test_the_role_cannot_change_the_schema_or_the_migrations(database_url: str, statement: str) -> None:
    """DDL, TRUNCATE, role changes and the migrations' own table are refused to chat_app."""
    with psycopg.connect(_as_app_role(database_url)) as conn, pytest.raises(pg_errors.InsufficientPrivilege):
        conn.execute(statement)


def test_tables_of_later_migrations_are_granted_too(database_url: str) -> None:
    """A table (and its sequence) created after 0004 by the migrating role is open to chat_app's DML at once."""
    with psycopg.connect(database_url, autocommit=True) as admin:
        admin.execute("CREATE TABLE later (id bigserial PRIMARY KEY, note text)")
    with psycopg.connect(_as_app_role(database_url), autocommit=True) as conn:
        conn.execute("INSERT INTO later (note) VALUES ('a')")
        conn.execute("UPDATE later SET note = 'b'")
        assert conn.execute("SELECT note FROM later").fetchall() == [("b",)]
        conn.execute("DELETE FROM later")
        with pytest.raises(pg_errors.InsufficientPrivilege):
            conn.execute("DROP TABLE later")


def test_only_the_app_role_may_call_the_conversations_function(database_url: str) -> None:
    """EXECUTE on conversations_page is revoked from PUBLIC and granted to chat_app alone."""
    signature = "conversations_page(bigint, bigint, bigint, integer)"
    with psycopg.connect(database_url, autocommit=True) as admin:
        admin.execute("CREATE ROLE bystander NOLOGIN")
        try:
            allowed = [
                admin.execute("SELECT has_function_privilege(%s, %s, 'EXECUTE')", (role, signature)).fetchone()
                for role in (APP_ROLE, "bystander")
            ]
        finally:
            admin.execute("DROP ROLE bystander")
    assert allowed == [(True,), (False,)]
