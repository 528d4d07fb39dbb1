"""Plain SQL migrations, applied in file-name order, each once, under an advisory lock."""

from __future__ import annotations

from importlib import resources

import psycopg

# Any constant works; it keeps two starters (local stack, deploy-time step) from migrating at once.
_LOCK_KEY = 0x63686174  # "chat"


def migration_files() -> list[tuple[str, str]]:
    """``(name, sql)`` for every migration shipped with the layer, in order."""
    folder = resources.files("chatcore.postgres") / "migrations"
    names = sorted(p.name for p in folder.iterdir() if p.name.endswith(".sql"))
    return [(name, (folder / name).read_text(encoding="utf-8")) for name in names]


def apply_migrations(conninfo: str) -> list[str]:
    """Apply the migrations not yet applied to the database at ``conninfo``; returns their names."""
    applied: list[str] = []
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (_LOCK_KEY,))
        try:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                " name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
            )
            done = {row[0] for row in conn.execute("SELECT name FROM schema_migrations")}
            for name, sql in migration_files():
                if name in done:
                    continue
                with conn.transaction():
                    conn.execute(sql.encode())
                    conn.execute("INSERT INTO schema_migrations (name) VALUES (%s)", (name,))
                applied.append(name)
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (_LOCK_KEY,))
    return applied
