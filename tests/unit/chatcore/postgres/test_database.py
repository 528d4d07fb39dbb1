"""The database connection: unreachable servers, stale connections and what is retried."""

from __future__ import annotations

import socket

import psycopg
import pytest
from chatcore.errors import StoreUnavailable
from chatcore.postgres.database import Database
from chatcore.postgres.store import ChatStore

from tests.unit.chatcore.postgres.conftest import HASH


def _closed_port_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"postgresql://postgres@127.0.0.1:{port}/nothing"


def test_unreachable_database_raises_store_unavailable_then_recovers(database_url: str) -> None:
    """While PostgreSQL cannot be reached calls raise StoreUnavailable; once it answers, they work again."""
    target = {"url": _closed_port_url()}
    asked: list[str] = []

    def conninfo() -> str:
        asked.append(target["url"])
        return target["url"]

    db = Database(conninfo, connect_timeout=2)
    store = ChatStore(db)
    assert asked == []  # nothing is opened at construction
    with pytest.raises(StoreUnavailable):
        store.get_user(1)
    with pytest.raises(StoreUnavailable):
        store.create_user("alice", HASH)

    target["url"] = database_url
    created = store.create_user("alice", HASH)
    assert store.get_user(created.id) == created
    db.close()


def test_a_connection_the_server_dropped_is_replaced_without_a_failed_call(database_url: str) -> None:
    """A connection the server closed while idle costs a reconnect and a retry, not a failed call."""
    db = Database(database_url)
    store = ChatStore(db)
    alice = store.create_user("alice", HASH)
    with db.connection() as conn:
        pid = conn.info.backend_pid
    with psycopg.connect(database_url, autocommit=True) as admin:
        assert admin.execute("SELECT pg_terminate_backend(%s)", (pid,)).fetchone() == (True,)

    assert store.get_user(alice.id) == alice  # retried once on a fresh connection
    with db.connection() as conn:
        assert conn.info.backend_pid != pid
    db.close()


def test_a_write_without_an_idempotency_key_is_not_retried(database_url: str) -> None:
    """A message without a clientMsgId on a stale connection fails (StoreUnavailable) rather than risk a double."""
    db = Database(database_url)
    store = ChatStore(db)
    alice = store.create_user("alice", HASH)
    room = store.create_group("general", private=False, created_by=alice.id)
    with db.connection() as conn:
        pid = conn.info.backend_pid
    with psycopg.connect(database_url, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))

    with pytest.raises(StoreUnavailable):
        store.save_message(room.id, alice.id, "once", None)
    saved = store.save_message(room.id, alice.id, "keyed", "c-1")  # a fresh connection now
    assert [m.content for m in store.latest_messages(room.id, 10)[0]] == [saved.message.content]
    db.close()
