"""Database connections never prepare statements on the server (RDS Proxy would pin the session)."""

from __future__ import annotations

from chatcore.postgres.database import Database
from chatcore.postgres.store import ChatStore

from tests.unit.chatcore.postgres.conftest import HASH


def test_a_query_run_many_times_is_never_prepared_on_the_server(database_url: str) -> None:
    """After the same store query runs 20 times (psycopg prepares at 5 by default) the session holds no prepared one."""
    db = Database(database_url)
    store = ChatStore(db)
    alice = store.create_user("alice", HASH)
    for _ in range(20):
        assert store.get_user(alice.id) == alice
    with db.connection() as conn:
        prepared = conn.execute("SELECT name, statement FROM pg_prepared_statements").fetchall()
        threshold = conn.prepare_threshold
    assert prepared == []
    assert threshold is None
    db.close()


def test_the_conversations_function_caches_its_plan_without_a_prepared_statement(database_url: str) -> None:
    """Twenty conversations pages (a PL/pgSQL function, plan cached per session) leave no prepared statement."""
    db = Database(database_url)
    store = ChatStore(db)
    alice = store.create_user("alice", HASH)
    room = store.create_group("general", private=False, created_by=alice.id)
    for _ in range(20):
        assert [c.id for c in store.conversations_page(alice.id)[0]] == [room.id]
    with db.connection() as conn:
        assert conn.execute("SELECT count(*) FROM pg_prepared_statements").fetchone() == (0,)
    db.close()
