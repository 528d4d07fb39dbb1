"""Failed logins per key (a username or an address), in fixed windows, for login throttling."""

from __future__ import annotations

from typing import Any

import psycopg

from chatcore.postgres.database import Database


class LoginQueries:
    _db: Database

    def login_failures(self, keys: list[str], window_seconds: int) -> dict[str, int]:
        """Failures counted in the current window for each key (0 when none or the window is over)."""
        rows = self._db.values(
            "SELECT key, failures FROM login_failures"
            " WHERE key = ANY(%s) AND window_start > now() - make_interval(secs => %s)",
            (keys, window_seconds),
        )
        counts = dict.fromkeys(keys, 0)
        counts.update({row[0]: row[1] for row in rows})
        return counts

    def record_login_failure(self, keys: list[str], window_seconds: int) -> None:
        """Count one failure for each key, starting a new window where the last one is over."""

        def work(conn: psycopg.Connection[Any]) -> None:
            conn.cursor().executemany(
                "INSERT INTO login_failures (key, window_start, failures) VALUES (%(k)s, now(), 1)"
                " ON CONFLICT (key) DO UPDATE SET"
                "  failures = CASE WHEN login_failures.window_start > now() - make_interval(secs => %(w)s)"
                "    THEN login_failures.failures + 1 ELSE 1 END,"
                "  window_start = CASE WHEN login_failures.window_start > now() - make_interval(secs => %(w)s)"
                "    THEN login_failures.window_start ELSE now() END",
                [{"k": key, "w": window_seconds} for key in keys],
            )

        # Counting a failure twice after a stale connection only throttles sooner: not worth a retry.
        self._db.run(work, idempotent=False)

    def clear_login_failures(self, key: str) -> None:
        self._db.execute("DELETE FROM login_failures WHERE key = %s", (key,))
