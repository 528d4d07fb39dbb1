"""Benchmark 4, history and search at scale: ``join``, a ``history`` page and a search with 1,000 vs 1,000,000
messages.

An embedded PostgreSQL (the local stack's) gets the project's migrations, 100 users in 100 rooms, and
messages bulk-inserted with ``generate_series``: half of them in the measured room, the rest spread over
the 99 others and interleaved by id, as busy rooms are. The database work of the two frames is timed
through :class:`chatcore.store.ChatStore`, exactly the calls :class:`chatcore.chat.ChatService` makes:

* ``join``: the room and the caller's role, the member list, the latest 50 messages;
* ``history``: the 50 messages before an id in the middle of the room's history;
* ``search``: ``GET /search?q=quokk`` by a member: a word that 20 messages of the room hold at both sizes
  (what a user looks for: a name, a term), found through the GIN index; for information also a word in
  every message (``lorem``), where the search ranks only the newest 1,000 matches.

One database holds 1,000 messages, another 1,000,000 (100,000 with ``--quick``), and the calls alternate
between them so that the machine's load affects both alike. The ratio of the medians is the target
(under 1.5). Each SQL statement the store ran is recorded and shown with ``EXPLAIN (ANALYZE, BUFFERS)``
at the larger size. For information: the REST API's group list (unread counts), and ``join`` in a third
database where the measured room holds the oldest half of the messages (a room that went quiet).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import psycopg
import psycopg.sql

from bench.common import Section, Target, fmt, md_table, median, percentile, progress

ROOM = 1
ROOMS = 100
USERS = 100
TARGET_RATIO = 1.5

_SEED = (
    "INSERT INTO users (username, password_hash, nickname)"
    " SELECT 'bench_user_' || u, 'scrypt$bench', 'User ' || u FROM generate_series(1, %(users)s::int) u",
    "INSERT INTO rooms (name, private, kind, created_by)"
    " SELECT 'bench room ' || g, false, 'group', 1 FROM generate_series(1, %(rooms)s::int) g",
    "INSERT INTO room_members (user_id, room_id, role)"
    " SELECT u, %(room)s, CASE WHEN u = 1 THEN 'owner' ELSE 'member' END FROM generate_series(1, %(users)s::int) u",
    "INSERT INTO room_members (user_id, room_id, role)"
    " SELECT 1 + (g %% %(users)s), g, 'member' FROM generate_series(2, %(rooms)s::int) g ON CONFLICT DO NOTHING",
)

# Message g: even ones in the measured room, odd ones spread over the others; a clientMsgId each, as the
# web UI sends, so the unique (user_id, client_msg_id) index is as large as in real use. Besides "lorem
# ipsum", three words of a 3,000-word vocabulary each: chat text has many words, and PostgreSQL's estimate of
# a search word's frequency relies on that (with only a handful of distinct words in the whole table it
# assumes any unknown word matches 2% of the rows, and walks the table instead of using the GIN index).
_MESSAGES = """
INSERT INTO messages (room_id, user_id, content, client_msg_id, created_at)
SELECT CASE WHEN g %% 2 = 0 THEN %(room)s ELSE 2 + g %% (%(rooms)s - 1) END,
       1 + g %% %(users)s,
       'message number ' || g || ': ' || repeat('lorem ipsum ', (1 + g %% 8)::int)
         || ' w' || (g * 7919) %% 3000 || ' w' || (g * 104729) %% 3000 || ' w' || (g * 1299709) %% 3000,
       md5(g::text),
       now() - make_interval(secs => (%(last)s::bigint - g)::double precision)
FROM generate_series(%(first)s::bigint, %(last)s::bigint) g
"""


# A formerly busy room: the measured room holds the oldest half of the messages, the other rooms all the
# newer ones (a team's old room that went quiet while others took over).
_QUIET_ROOM = _MESSAGES.replace(
    "CASE WHEN g %% 2 = 0 THEN %(room)s ELSE 2 + g %% (%(rooms)s - 1) END",
    "CASE WHEN g <= %(total)s / 2 THEN %(room)s ELSE 2 + g %% (%(rooms)s - 1) END",
)


class RecordingCursor(psycopg.Cursor[Any]):
    """Remembers the last parameters of each distinct SQL text the store runs, per database (to EXPLAIN)."""

    seen: ClassVar[dict[str, dict[str, Any]]] = {}

    def execute(self, query: Any, params: Any = None, **kwargs: Any) -> Any:
        RecordingCursor.seen.setdefault(self.connection.info.dbname, {})[str(query)] = params
        return super().execute(query, params, **kwargs)


def _middle_id(url: str) -> int:
    """An id in the middle of the measured room's history (where a ``history`` page starts)."""
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT id FROM messages WHERE room_id = %s ORDER BY id"
            " OFFSET (SELECT count(*) / 2 FROM messages WHERE room_id = %s) LIMIT 1",
            (ROOM, ROOM),
        ).fetchone()
    assert row is not None
    return int(row[0])


def _calls(store: Any, middle: int) -> dict[str, Callable[[], Any]]:
    from chatcore.fields import DEFAULT_HISTORY_LIMIT

    def join() -> None:
        store.room_and_role(ROOM, 2)
        store.list_members(ROOM)
        store.latest_messages(ROOM, DEFAULT_HISTORY_LIMIT)

    def search() -> None:
        hits, _ = store.search_messages(2, [RARE_WORD[:5]])
        assert len(hits) == RARE_MESSAGES, len(hits)

    return {
        "join": join,
        "history": lambda: store.messages_before(ROOM, middle, DEFAULT_HISTORY_LIMIT),
        "search": search,
        "search_common": lambda: store.search_messages(2, ["lorem"]),
        "list_groups": lambda: store.groups_page(2),
    }


def _interleaved(calls: dict[str, dict[str, Callable[[], Any]]], repeats: int) -> dict[str, dict[str, list[float]]]:
    """Time every (database, operation) ``repeats`` times, round-robin, so load drift hits all alike."""
    for by_operation in calls.values():
        for call in by_operation.values():
            for _ in range(max(5, repeats // 10)):
                call()
    took: dict[str, dict[str, list[float]]] = {db: {op: [] for op in ops} for db, ops in calls.items()}
    for _ in range(repeats):
        for db, by_operation in calls.items():
            for operation, call in by_operation.items():
                started = time.perf_counter()
                call()
                took[db][operation].append((time.perf_counter() - started) * 1000)
    return took


def _explain(url: str, dbname: str) -> list[tuple[str, str]]:
    plans = []
    with psycopg.connect(url, autocommit=True) as conn:
        for query, params in RecordingCursor.seen.get(dbname, {}).items():
            if not query.lstrip().upper().startswith(("SELECT", "WITH")) or query.strip() == "SELECT 1":
                continue
            rows = conn.execute("EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " + query, params).fetchall()
            plans.append((" ".join(query.split()), "\n".join(r[0] for r in rows)))
    return plans


# The searched word: in 20 of the measured room's messages whatever the table's size, spread over its history.
RARE_WORD = "quokka"
RARE_MESSAGES = 20
_RARE = """
UPDATE messages SET content = content || ' the quokka report'
WHERE id IN (SELECT id FROM messages WHERE room_id = %(room)s
             AND id %% greatest(1, (SELECT count(*) FROM messages WHERE room_id = %(room)s) / %(n)s) = 0
             ORDER BY id LIMIT %(n)s)
"""


def _explain_search(url: str) -> list[tuple[str, str]]:
    """EXPLAIN (ANALYZE, BUFFERS) of the store's search SQL for the rare word and for the word in every message."""
    from chatcore.postgres.messages import _SEARCH

    plans = []
    with psycopg.connect(url, autocommit=True) as conn:
        for word in (RARE_WORD[:5], "lorem"):
            params = {"q": f"{word}:*", "room": None, "u": 2, "last_rank": None, "last_id": 0, "n": 21}
            rows = conn.execute("EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " + _SEARCH, params).fetchall()
            plans.append((f"search for {word!r}: " + " ".join(_SEARCH.split()), "\n".join(r[0] for r in rows)))
    return plans


def _fill(url: str, total: int, sql: str, label: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        for statement in _SEED:
            conn.execute(statement, {"users": USERS, "rooms": ROOMS, "room": ROOM})
        step = 250_000
        for first in range(1, total + 1, step):
            last = min(total, first + step - 1)
            params = {"first": first, "last": last, "total": total, "room": ROOM, "rooms": ROOMS, "users": USERS}
            conn.execute(sql, params)
            progress(f"history: {label}: {last:,} of {total:,} messages")
        conn.execute(_RARE, {"room": ROOM, "n": RARE_MESSAGES})
        conn.execute("VACUUM ANALYZE")


def run(quick: bool, out_dir: Path, work_dir: Path) -> Section:
    from chat_local.postgres import EmbeddedPostgres
    from chatcore.postgres.database import Database
    from chatcore.postgres.migrate import apply_migrations
    from chatcore.postgres.store import ChatStore

    small, large = 1_000, 100_000 if quick else 1_000_000
    repeats = 40 if quick else 300
    server = EmbeddedPostgres(work_dir / "pg", durable=False)
    progress("history: starting the embedded PostgreSQL")
    server.start()
    databases = {"small": (small, _MESSAGES), "large": (large, _MESSAGES), "quiet": (large, _QUIET_ROOM)}
    stores: dict[str, Any] = {}
    try:
        insert_seconds = {}
        for name, (total, sql) in databases.items():
            with psycopg.connect(server.url_for("postgres"), autocommit=True) as conn:
                conn.execute(psycopg.sql.SQL("CREATE DATABASE {}").format(psycopg.sql.Identifier(name)))
            url = server.url_for(name)
            apply_migrations(url)
            started = time.monotonic()
            _fill(url, total, sql, name)
            insert_seconds[name] = time.monotonic() - started
            db = Database(url)
            with db.connection() as conn:
                conn.cursor_factory = RecordingCursor
            stores[name] = ChatStore(db)
        calls = {name: _calls(stores[name], _middle_id(server.url_for(name))) for name in ("small", "large")}
        calls["quiet"] = {"join": _calls(stores["quiet"], 1)["join"]}
        progress(f"history: timing join and history, {repeats} rounds over the databases in turn")
        took = _interleaved(calls, repeats)
        results = {small: took["small"], large: took["large"]}
        quiet = took["quiet"]["join"]
        for size in (small, large):
            progress(
                f"history: {size:,} messages: join {median(results[size]['join']):.2f} ms,"
                f" history {median(results[size]['history']):.2f} ms (medians)"
            )
        plans = [p for p in _explain(server.url_for("large"), "large") if "to_tsquery" not in p[0]]
        search_plans = _explain_search(server.url_for("large"))
        quiet_plans = [plan for plan in _explain(server.url_for("quiet"), "quiet") if "ORDER BY m.id DESC" in plan[0]]
    finally:
        for store in stores.values():
            store._db.close()
        server.stop()
    plots = _plot(results, out_dir)
    return _section(results, quiet, plans, quiet_plans, search_plans, insert_seconds, repeats, plots, quick)


def _section(
    results: dict[int, dict[str, list[float]]],
    quiet: list[float],
    plans: list[tuple[str, str]],
    quiet_plans: list[tuple[str, str]],
    search_plans: list[tuple[str, str]],
    insert_seconds: dict[str, float],
    repeats: int,
    plots: list[str],
    quick: bool,
) -> Section:
    small, large = sorted(results)
    rows = []
    targets = []
    informational = {
        "list_groups": " (REST, not a target)",
        "search_common": " of a word in every message (not a target)",
    }
    for operation in ("join", "history", "search", "search_common", "list_groups"):
        a, b = results[small][operation], results[large][operation]
        ratio = median(b) / median(a)
        rows.append(
            [
                f"`{operation}`" + informational.get(operation, ""),
                fmt(median(a), 2),
                fmt(percentile(a, 95), 2),
                fmt(median(b), 2),
                fmt(percentile(b, 95), 2),
                fmt(ratio, 2) + "x",
            ]
        )
        if operation not in informational:
            targets.append(
                Target(
                    f"{operation} with {large:,} vs {small:,} messages",
                    f"< {TARGET_RATIO}x",
                    f"{ratio:.2f}x",
                    ratio < TARGET_RATIO,
                )
            )
    gin_used = "messages_search_idx" in search_plans[0][1]
    targets.append(
        Target(
            f"search at {large:,} messages uses the GIN index (EXPLAIN)",
            "Bitmap Index Scan on messages_search_idx",
            "used" if gin_used else "not used",
            gin_used,
        )
    )
    small_join = results[small]["join"]
    rows.append(
        [
            "`join` of a formerly busy room (not a target)",
            fmt(median(small_join), 2),
            fmt(percentile(small_join, 95), 2),
            fmt(median(quiet), 2),
            fmt(percentile(quiet, 95), 2),
            fmt(median(quiet) / median(small_join), 2) + "x",
        ]
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

    def details(summary: str, found: list[tuple[str, str]]) -> str:
        body = "\n\n".join(f"`{query}`\n\n```\n{plan}\n```" for query, plan in found)
        return f"<details><summary>{summary}</summary>\n\n{body}\n\n</details>"

    markdown = "\n\n".join(
        [
            f"Three databases in one embedded PostgreSQL: {small:,} messages, {large:,} messages, and {large:,}"
            " messages where the measured room holds the oldest half (a formerly busy room). In the first two"
            f" the measured room holds every other message, interleaved by id with {ROOMS - 1} other rooms. The"
            f" calls go through `ChatStore`, one connection per database (as a warm function holds it), {repeats}"
            " rounds after a warm-up, the databases taking turns call by call so that changes in the machine's"
            " load hit both sides of the ratio alike. Bulk insert and `VACUUM ANALYZE` took"
            f" {insert_seconds.get('large', float('nan')):.0f} s for {large:,} messages.",
            table,
            "`join` = `room_and_role` + `list_members` + `latest_messages(50)`; `history` ="
            " `messages_before(middle id, 50)`. Both read 50 index entries whatever the table's size (the plans"
            " below: a backward index scan, about ten buffers). `list_groups`, the REST group list, counts every"
            " unread message of each of the user's groups, so it grows with the unread backlog. The formerly busy"
            " room shows a planner trap: its messages are half the table, so PostgreSQL expects to find the latest"
            " 50 quickly by walking the primary key backwards and filtering, and instead walks past every newer"
            " message of the other rooms. `search` finds a word 20 of the room's messages hold, at both sizes"
            " (a name, a term: what people search for) through the GIN index on the `search` column; the word in"
            " every message is answered by walking ids backwards until 1,000 readable matches are found, then"
            " ranking those (search ranks only the newest 1,000 matches, so no word costs more than that).",
            details(f"EXPLAIN (ANALYZE, BUFFERS) of every SELECT the store ran, at {large:,} messages", plans),
            details("EXPLAIN (ANALYZE, BUFFERS) of the latest page of the formerly busy room", quiet_plans),
            details(f"EXPLAIN (ANALYZE, BUFFERS) of the two searches at {large:,} messages", search_plans),
            *[f"![{p}]({p})" for p in plots],
        ]
    )
    return Section(
        name="history",
        title="4. History and search at scale",
        markdown=markdown,
        data={
            "sizes": [small, large],
            "medians_ms": {str(size): {k: median(v) for k, v in ops.items()} for size, ops in results.items()},
            "p95_ms": {str(size): {k: percentile(v, 95) for k, v in ops.items()} for size, ops in results.items()},
            "formerly_busy_room_join_ms": {"median": median(quiet), "p95": percentile(quiet, 95)},
            "plans": plans,
            "formerly_busy_room_plans": quiet_plans,
            "search_plans": search_plans,
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

    operations = ["join", "history", "search", "search_common", "list_groups"]
    sizes = sorted(results)
    fig, ax = plt.subplots(figsize=(9, 4))
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
