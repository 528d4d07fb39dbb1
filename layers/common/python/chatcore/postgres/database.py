"""One PostgreSQL connection per warm container: opened on first use, reopened after it breaks.

A Lambda container sits idle between invocations, and meanwhile the server or RDS Proxy may close its
connection. Rather than pinging before every use (a round trip on almost every invocation), a statement
that fails on a *reused* connection is run once more on a fresh one; a failure on a fresh connection, or
on the second try, is :class:`StoreUnavailable`. Work that must not run twice (an insert without an
idempotency key) passes ``idempotent=False`` and is never retried.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

import psycopg
from psycopg.rows import class_row

from chatcore.errors import StoreUnavailable

T = TypeVar("T")
Params = Sequence[Any] | dict[str, Any] | None
_CONNECTION_ERRORS = (psycopg.OperationalError, psycopg.InterfaceError)


class Database:
    """A lazily opened PostgreSQL connection (autocommit) with one retry on a stale one.

    ``conninfo`` is a connection string or a callable returning one (so a secret is fetched on first
    use, not at import).
    """

    def __init__(self, conninfo: str | Callable[[], str], connect_timeout: int = 5) -> None:
        self._conninfo = conninfo
        self._connect_timeout = connect_timeout
        self._conn: psycopg.Connection[Any] | None = None

    def _open(self) -> psycopg.Connection[Any]:
        conninfo = self._conninfo() if callable(self._conninfo) else self._conninfo
        try:
            # No server-side prepared statements (psycopg prepares a query run 5 times by default): RDS Proxy
            # pins a session that prepares one to its database connection for good, ending the multiplexing.
            conn = psycopg.connect(
                conninfo, autocommit=True, connect_timeout=self._connect_timeout, prepare_threshold=None
            )
        except psycopg.Error as exc:
            raise StoreUnavailable(f"cannot connect to PostgreSQL: {type(exc).__name__}") from exc
        self._conn = conn
        return conn

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()

    def run(self, work: Callable[[psycopg.Connection[Any]], T], *, idempotent: bool = True) -> T:
        """``work(connection)``; a connection-level failure becomes :class:`StoreUnavailable` (see the module)."""
        conn = self._conn
        reused = conn is not None and not conn.closed and not conn.broken
        if not reused:
            conn = self._open()
        assert conn is not None
        try:
            return work(conn)
        except _CONNECTION_ERRORS as exc:
            self.close()
            if not (reused and idempotent):
                raise StoreUnavailable(f"PostgreSQL request failed: {type(exc).__name__}") from exc
        # The reused connection was stale (closed by the server or the proxy while idle): once more.
        conn = self._open()
        try:
            return work(conn)
        except _CONNECTION_ERRORS as exc:
            self.close()
            raise StoreUnavailable(f"PostgreSQL request failed: {type(exc).__name__}") from exc

    def transaction(self, work: Callable[[psycopg.Connection[Any]], T], *, idempotent: bool = True) -> T:
        """``work(connection)`` inside one transaction, committed when it returns (see :meth:`run`)."""

        def in_transaction(conn: psycopg.Connection[Any]) -> T:
            with conn.transaction():
                return work(conn)

        return self.run(in_transaction, idempotent=idempotent)

    # ------------------------------------------------------------ one statement

    def one(self, row: type[T], sql: str, params: Params = None) -> T | None:
        """The first row of ``sql`` as a ``row`` dataclass, or None."""

        def work(conn: psycopg.Connection[Any]) -> T | None:
            with conn.cursor(row_factory=class_row(row)) as cur:
                cur.execute(sql, params)
                return cur.fetchone()

        return self.run(work)

    def all(self, row: type[T], sql: str, params: Params = None) -> list[T]:
        """Every row of ``sql`` as ``row`` dataclasses."""

        def work(conn: psycopg.Connection[Any]) -> list[T]:
            with conn.cursor(row_factory=class_row(row)) as cur:
                cur.execute(sql, params)
                return cur.fetchall()

        return self.run(work)

    def values(self, sql: str, params: Params = None) -> list[tuple[Any, ...]]:
        """Every row of ``sql`` as a tuple."""
        return self.run(lambda conn: conn.execute(sql, params).fetchall())

    def execute(self, sql: str, params: Params = None, *, idempotent: bool = True) -> int:
        """Run ``sql``; the number of rows it touched."""
        return self.run(lambda conn: conn.execute(sql, params).rowcount, idempotent=idempotent)

    @contextmanager
    def connection(self) -> Iterator[psycopg.Connection[Any]]:
        """The live connection itself, for tests and tools; no retry."""
        conn = self._conn if self._conn is not None and not self._conn.broken else self._open()
        try:
            yield conn
        except _CONNECTION_ERRORS as exc:
            self.close()
            raise StoreUnavailable(f"PostgreSQL request failed: {type(exc).__name__}") from exc
