"""Benchmark 4, history at scale: ``join`` and a ``history`` page with 1,000 vs 1,000,000 messages.

An embedded PostgreSQL (the local stack's) gets the project's migrations, 100 users in 100 rooms, and
messages bulk-inserted with ``generate_series``: half of them in the measured room, the rest spread over
the 99 others and interleaved by id, as busy rooms are. The database work of the two frames is timed
through :class:`chatcore.store.ChatStore`, exactly the calls :class:`chatcore.chat.ChatService` makes:

* ``join``: the room and the caller's role, the member list, the latest 50 messages;
* ``history``: the 50 messages before an id in the middle of the room's history.

First with 1,000 messages in the database, then (same database, same room) after growing it to
1,000,000 (100,000 with ``--quick``). The ratio of the medians is the target (under 1.5). Each SQL
statement the store ran is recorded and shown with ``EXPLAIN (ANALYZE, BUFFERS)`` at the larger size.
The REST API's group list (unread counts) is timed alongside for information.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg

from bench.common import Section, Target, fmt, md_table, median, percentile, progress

ROOM = 1
ROOMS = 100
USERS = 100
TARGET_RATIO = 1.5

_SEED = (
    "INSERT INTO users (username, password_hash, nickname)"
    " SELECT 'bench_user_' || u, 'scrypt$bench', 'User ' || u FROM generate_series(1, %(users)s::int) u",
    "INSERT INTO groups (name, private, kind, created_by)"
    " SELECT 'bench room ' || g, false, 'group', 1 FROM generate_series(1, %(rooms)s::int) g",
    "INSERT INTO group_members (user_id, group_id, role)"
    " SELECT u, %(room)s, CASE WHEN u = 1 THEN 'owner' ELSE 'member' END FROM generate_series(1, %(users)s::int) u",
    "INSERT INTO group_members (user_id, group_id, role)"
    " SELECT 1 + (g %% %(users)s), g, 'member' FROM generate_series(2, %(rooms)s::int) g ON CONFLICT DO NOTHING",
)

# Message g: even ones in the measured room, odd ones spread over the others; a clientMsgId each, as the
# web UI sends, so the unique (user_id, client_msg_id) index is as large as in real use.
_MESSAGES = """
INSERT INTO messages (group_id, user_id, content, client_msg_id, created_at)
SELECT CASE WHEN g %% 2 = 0 THEN %(room)s ELSE 2 + g %% (%(rooms)s - 1) END,
       1 + g %% %(users)s,
       'message number ' || g || ': ' || repeat('lorem ipsum ', (1 + g %% 8)::int),
       md5(g::text),
       now() - make_interval(secs => (%(last)s::bigint - g)::double precision)
FROM generate_series(%(first)s::bigint, %(last)s::bigint) g
"""


class RecordingCursor(psycopg.Cursor[Any]):
    """Remembers the last statement of each distinct SQL text the store runs (to EXPLAIN it later)."""

    seen: dict[str, Any] = {}

    def execute(self, query: Any, params: Any = None, **kwargs: Any) -> Any:  # type: ignore[override]
        RecordingCursor.seen[str(query)] = params
        return super().execute(query, params, **kwargs)


def _time(call: Callable[[], Any], repeats: int) -> list[float]:
    for _ in range(max(5, repeats // 10)):
        call()
    took = []
    for _ in range(repeats):
        started = time.perf_counter()
        call()
        took.append((time.perf_counter() - started) * 1000)
    return took


def _measure(store: Any, repeats: int) -> dict[str, list[float]]:
    from chatcore.protocol import DEFAULT_HISTORY_LIMIT

    with store._db.connection() as conn:
        middle = conn.execute(
            "SELECT id FROM messages WHERE group_id = %s ORDER BY id OFFSET (SELECT count(*) / 2 FROM messages"
            " WHERE group_id = %s) LIMIT 1",
            (ROOM, ROOM),
        ).fetchone()[0]

    def join() -> None:
        store.get_group_and_role(ROOM, 2)
        store.list_members(ROOM)
        store.latest_messages(ROOM, DEFAULT_HISTORY_LIMIT)

    def history() -> None:
        store.messages_before(ROOM, middle, DEFAULT_HISTORY_LIMIT)

    def groups() -> None:
        store.list_groups(2)

    return {"join": _time(join, repeats), "history": _time(history, repeats), "list_groups": _time(groups, repeats)}


def _explain(url: str) -> list[tuple[str, str]]:
    plans = []
    with psycopg.connect(url, autocommit=True) as conn:
        for query, params in RecordingCursor.seen.items():
            if not query.lstrip().upper().startswith("SELECT"):
                continue
            rows = conn.execute("EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " + query, params).fetchall()  # type: ignore[arg-type]
            plans.append((" ".join(query.split()), "\n".join(r[0] for r in rows)))
    return plans


def run(quick: bool, out_dir: Path, work_dir: Path) -> Section:
    from chat_local.postgres import EmbeddedPostgres
    from chatcore.migrate import apply_migrations
    from chatcore.store import ChatStore, Database

    sizes = (1_000, 100_000 if quick else 1_000_000)
    repeats = 50 if quick else 300
    server = EmbeddedPostgres(work_dir / "pg", durable=False)
    progress("history: starting the embedded PostgreSQL")
    url = server.start()
    try:
        apply_migrations(url)
        with psycopg.connect(url, autocommit=True) as conn:
            for statement in _SEED:
                conn.execute(statement, {"users": USERS, "rooms": ROOMS, "room": ROOM})  # type: ignore[arg-type]
        db = Database(url)
        store = ChatStore(db)
        with db.connection() as conn:
            conn.cursor_factory = RecordingCursor
        results: dict[int, dict[str, list[float]]] = {}
        inserted = 0
        insert_seconds: dict[int, float] = {}
        for size in sizes:
            started = time.monotonic()
            with psycopg.connect(url, autocommit=True) as conn:
                step = 250_000
                for first in range(inserted + 1, size + 1, step):
                    last = min(size, first + step - 1)
                    conn.execute(
                        _MESSAGES, {"first": first, "last": last, "room": ROOM, "rooms": ROOMS, "users": USERS}
                    )
                    progress(f"history: {last:,} messages in the database")
                conn.execute("VACUUM ANALYZE")
            insert_seconds[size] = time.monotonic() - started
            inserted = size
            RecordingCursor.seen.clear()
            results[size] = _measure(store, repeats)
            progress(
                f"history: {size:,} messages: join {median(results[size]['join']):.2f} ms,"
                f" history {median(results[size]['history']):.2f} ms (medians of {repeats})"
            )
        plans = _explain(url)
        db.close()
    finally:
        server.stop()
    plots = _plot(results, out_dir)
    return _section(results, plans, insert_seconds, repeats, plots, quick)


def _section(
    results: dict[int, dict[str, list[float]]],
    plans: list[tuple[str, str]],
    insert_seconds: dict[int, float],
    repeats: int,
    plots: list[str],
    quick: bool,
) -> Section:
    small, large = sorted(results)
    rows = []
    targets = []
    for operation in ("join", "history", "list_groups"):
        a, b = results[small][operation], results[large][operation]
        ratio = median(b) / median(a)
        rows.append(
            [
                f"`{operation}`" + (" (REST, not a target)" if operation == "list_groups" else ""),
                fmt(median(a), 2),
                fmt(percentile(a, 95), 2),
                fmt(median(b), 2),
                fmt(percentile(b, 95), 2),
                fmt(ratio, 2) + "x",
            ]
        )
        if operation != "list_groups":
            targets.append(
                Target(
                    f"{operation} with {large:,} vs {small:,} messages",
                    f"< {TARGET_RATIO}x",
                    f"{ratio:.2f}x",
                    ratio < TARGET_RATIO,
                )
            )
    table = md_table(
        [
            "database work of",
            f"{small:,} msgs: median ms",
            "p95 ms",
            f"{large:,} msgs: median ms",
            "p95 ms",
            "ratio of medians",
        ],
        rows,
    )
    plan_text = "\n\n".join(f"`{query}`\n\n```\n{plan}\n```" for query, plan in plans)
    markdown = "\n\n".join(
        [
            f"{repeats} timed calls each after a warm-up, through `ChatStore` over one connection (as a warm"
            f" function holds it). The measured room holds half of the messages; {ROOMS - 1} other rooms share"
            f" the rest. Bulk insert and `VACUUM ANALYZE` of {large:,} messages took"
            f" {insert_seconds.get(large, float('nan')):.0f} s.",
            table,
            "`join` = `get_group_and_role` + `list_members` + `latest_messages(50)`; `history` ="
            " `messages_before(middle id, 50)`; `list_groups` (the REST group list with unread counts) counts"
            " every unread message of each group the user is in, so it grows with the unread backlog.",
            f"<details><summary>EXPLAIN (ANALYZE, BUFFERS) of every SELECT the store ran, at {large:,}"
            f" messages</summary>\n\n{plan_text}\n\n</details>",
            *[f"![{p}]({p})" for p in plots],
        ]
    )
    return Section(
        name="history",
        title="4. History at scale",
        markdown=markdown,
        data={
            "sizes": [small, large],
            "medians_ms": {str(size): {k: median(v) for k, v in ops.items()} for size, ops in results.items()},
            "p95_ms": {str(size): {k: percentile(v, 95) for k, v in ops.items()} for size, ops in results.items()},
            "plans": plans,
            "insert_seconds": insert_seconds,
            "quick": quick,
        },
        plots=plots,
        targets=targets,
    )


def _plot(results: dict[int, dict[str, list[float]]], out_dir: Path) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    operations = ["join", "history", "list_groups"]
    sizes = sorted(results)
    fig, ax = plt.subplots(figsize=(7, 4))
    width = 0.38
    for i, size in enumerate(sizes):
        xs = [j + (i - 0.5) * width for j in range(len(operations))]
        ax.bar(xs, [median(results[size][op]) for op in operations], width, label=f"{size:,} messages")
    ax.set_xticks(range(len(operations)), operations)
    ax.set_ylabel("median ms (database work)")
    ax.set_yscale("log")
    ax.legend()
    ax.grid(True, axis="y", which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(out_dir / "history.png", dpi=110)
    plt.close(fig)
    return ["history.png"]
