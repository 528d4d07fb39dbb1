"""Failed logins per key (a username, an address, or the pair), in fixed windows, for login throttling.

An attempt is counted as a failure *before* its password is checked, inside the transaction that decided
to let it through, and forgiven when the password was right: so parallel attempts cannot all slip past a
limit that each of them alone would have hit. Times come from the caller (``now``), so tests move the
clock instead of waiting.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import psycopg

from chatcore.rows import LoginCounter

if TYPE_CHECKING:
    from chatcore.ports import LoginRefusal
    from chatcore.postgres.database import Database

# Every statement below tests "this key's window is running" as:
#   failures > 0 AND window_start > %(now)s - make_interval(secs => %(w)s)


def _counter(
    failures: int, window_start: datetime, last_attempt: datetime | None, *, window: int, now: datetime
) -> LoginCounter:
    ends = window_start + timedelta(seconds=window)
    if failures <= 0 or ends <= now:
        return LoginCounter(failures=0, window_ends=None, last_attempt=last_attempt)
    return LoginCounter(failures=failures, window_ends=ends, last_attempt=last_attempt)


class LoginQueries:
    _db: Database

    def login_counters(self, keys: list[str], *, window_seconds: int, now: datetime) -> dict[str, LoginCounter]:
        """The counters of ``keys`` at ``now`` (no failures and no window for a key never seen)."""
        rows = self._db.values(
            "SELECT key, failures, window_start, last_attempt FROM login_failures WHERE key = ANY(%s)", (keys,)
        )
        return self._counters(keys, rows, window_seconds, now)

    def begin_login_attempt(
        self, keys: list[str], *, window_seconds: int, now: datetime, refusal: LoginRefusal
    ) -> int | None:
        """Lock the counters of ``keys`` and ask ``refusal`` about them; unless it refuses (returning the
        seconds to wait), count the attempt as a failure of every key and stamp it as their last attempt.

        Returns what ``refusal`` returned. Two attempts on a common key run one after the other, so the
        second sees the first one counted. Locks are taken in key order, so attempts never deadlock.
        """
        ordered = sorted(set(keys))

        def work(conn: psycopg.Connection[Any]) -> int | None:
            # Rows must exist to be locked: a first attempt on a key inserts its (empty) counter.
            conn.execute(
                "INSERT INTO login_failures (key, window_start, failures)"
                " SELECT k, %s, 0 FROM unnest(%s::text[]) AS k ORDER BY k ON CONFLICT (key) DO NOTHING",
                (now, ordered),
            )
            rows = conn.execute(
                "SELECT key, failures, window_start, last_attempt FROM login_failures"
                " WHERE key = ANY(%s) ORDER BY key FOR UPDATE",
                (ordered,),
            ).fetchall()
            wait = refusal(self._counters(ordered, rows, window_seconds, now))
            if wait is None:
                conn.execute(
                    "UPDATE login_failures SET"
                    " failures = CASE WHEN failures > 0 AND window_start > %(now)s - make_interval(secs => %(w)s)"
                    "   THEN failures + 1 ELSE 1 END,"
                    " window_start = CASE WHEN failures > 0 AND window_start > %(now)s - make_interval(secs => %(w)s)"
                    "   THEN window_start ELSE %(now)s END,"
                    " last_attempt = %(now)s"
                    " WHERE key = ANY(%(keys)s)",
                    {"now": now, "w": window_seconds, "keys": ordered},
                )
            return wait

        # Not retried on a stale connection: counting an attempt twice only throttles sooner.
        return self._db.transaction(work, idempotent=False)

    def forgive_login_attempt(self, cleared: str, others: list[str], *, window_seconds: int, now: datetime) -> None:
        """After a right password: forget every failure of ``cleared`` (the username and address pair), and
        take as many off each of ``others`` (the username's and the address's counts, never below zero).

        Locks the keys in the same order as :meth:`begin_login_attempt`, so the two never deadlock.
        """
        ordered = sorted({cleared, *others})

        def work(conn: psycopg.Connection[Any]) -> None:
            rows = conn.execute(
                "SELECT key, failures, window_start, last_attempt FROM login_failures"
                " WHERE key = ANY(%s) ORDER BY key FOR UPDATE",
                (ordered,),
            ).fetchall()
            forgiven = self._counters(ordered, rows, window_seconds, now)[cleared].failures
            if not forgiven:
                return
            conn.execute("UPDATE login_failures SET failures = 0 WHERE key = %s", (cleared,))
            conn.execute(
                "UPDATE login_failures SET failures = greatest(failures - %(n)s, 0) WHERE key = ANY(%(keys)s)"
                " AND failures > 0 AND window_start > %(now)s - make_interval(secs => %(w)s)",
                {"n": forgiven, "keys": [key for key in others if key != cleared], "now": now, "w": window_seconds},
            )

        self._db.transaction(work, idempotent=False)

    @staticmethod
    def _counters(
        keys: list[str], rows: list[tuple[Any, ...]], window_seconds: int, now: datetime
    ) -> dict[str, LoginCounter]:
        counters = dict.fromkeys(keys, LoginCounter(failures=0, window_ends=None, last_attempt=None))
        for key, failures, window_start, last_attempt in rows:
            counters[key] = _counter(failures, window_start, last_attempt, window=window_seconds, now=now)
        return counters
