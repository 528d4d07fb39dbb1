"""PostgreSQL store for users, groups, memberships, messages, read markers and tags.

Parameterised SQL only (psycopg 3), no ORM. One connection per warm container, opened on first use and
reopened after a failure; a database that cannot be reached raises :class:`StoreUnavailable`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import psycopg
from psycopg import errors as pg_errors
from psycopg.rows import class_row

from chatcore.errors import Conflict, NotFound, StoreUnavailable

RoomKind = Literal["group", "direct"]
Role = Literal["owner", "member"]


@dataclass(frozen=True, slots=True)
class UserRow:
    id: int
    username: str
    email: str | None
    nickname: str | None
    avatar: str | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Credentials:
    id: int
    username: str
    password_hash: str


@dataclass(frozen=True, slots=True)
class GroupRow:
    id: int
    name: str
    private: bool
    kind: RoomKind
    created_by: int | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class GroupSummary:
    """A group as listed to one user: with its member count, the caller's role and unread count."""

    id: int
    name: str
    private: bool
    kind: RoomKind
    created_at: datetime
    member_count: int
    role: Role | None
    unread: int
    """Unread messages, counted up to 100."""


@dataclass(frozen=True, slots=True)
class DirectSummary:
    """A 1:1 chat as listed to one of its two members."""

    id: int
    other_id: int
    other_username: str
    other_nickname: str | None
    unread: int
    """Unread messages, counted up to 100 (so a long-quiet reader costs no more than a busy one)."""
    last_message_id: int | None


@dataclass(frozen=True, slots=True)
class MemberRow:
    id: int
    username: str
    nickname: str | None
    role: Role
    last_read_message_id: int


@dataclass(frozen=True, slots=True)
class MessageRow:
    id: int
    group_id: int
    user_id: int
    username: str
    content: str
    client_msg_id: str | None
    created_at: datetime

    @property
    def ts(self) -> int:
        """Creation time in epoch milliseconds, as the protocol sends it."""
        return int(self.created_at.timestamp() * 1000)


@dataclass(frozen=True, slots=True)
class TagCount:
    tag_name: str
    count: int


@dataclass(frozen=True, slots=True)
class NicknameRow:
    id: int
    username: str
    nickname: str | None


@dataclass(frozen=True, slots=True)
class SavedMessage:
    message: MessageRow
    created: bool
    """False when this was a retry of an already stored ``clientMsgId``."""


def direct_key(user_a: int, user_b: int) -> str:
    """The unique key of the 1:1 room between two users, the same whichever side asks."""
    low, high = sorted((user_a, user_b))
    return f"{low}:{high}"


class Database:
    """One lazily opened PostgreSQL connection, reopened after it breaks.

    ``conninfo`` is a connection string or a callable returning one (so a secret can be fetched on
    first use, not at import).
    """

    def __init__(
        self, conninfo: str | Callable[[], str], connect_timeout: int = 5, ping_after_idle: float = 1.0
    ) -> None:
        self._conninfo = conninfo
        self._connect_timeout = connect_timeout
        self._ping_after_idle = ping_after_idle
        self._conn: psycopg.Connection[Any] | None = None
        self._last_used = 0.0

    def _open(self) -> psycopg.Connection[Any]:
        conninfo = self._conninfo() if callable(self._conninfo) else self._conninfo
        try:
            conn = psycopg.connect(conninfo, autocommit=True, connect_timeout=self._connect_timeout)
        except psycopg.Error as exc:
            raise StoreUnavailable(f"cannot connect to PostgreSQL: {type(exc).__name__}") from exc
        self._conn = conn
        return conn

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()

    def _live_connection(self) -> psycopg.Connection[Any]:
        conn = self._conn
        if conn is not None and not conn.closed and not conn.broken:
            if time.monotonic() - self._last_used < self._ping_after_idle:
                return conn
            # After a quiet spell the server may have restarted or the proxy dropped us: check first,
            # so a stale connection costs a reconnect rather than a failed request.
            try:
                conn.execute("SELECT 1")
                return conn
            except psycopg.Error:
                self.close()
        return self._open()

    @contextmanager
    def connection(self) -> Iterator[psycopg.Connection[Any]]:
        """A live connection; a connection-level failure inside the block becomes StoreUnavailable."""
        conn = self._live_connection()
        try:
            yield conn
        except (psycopg.OperationalError, psycopg.InterfaceError) as exc:
            self.close()
            raise StoreUnavailable(f"PostgreSQL request failed: {type(exc).__name__}") from exc
        finally:
            self._last_used = time.monotonic()

    @contextmanager
    def transaction(self) -> Iterator[psycopg.Connection[Any]]:
        """A connection inside a transaction that commits when the block ends without error."""
        with self.connection() as conn, conn.transaction():
            yield conn


_MESSAGE_COLUMNS = """
    m.id, m.group_id, m.user_id, u.username, m.content, m.client_msg_id, m.created_at
"""


# A group as one user (%(u)s) sees it; callers append the WHERE clause.
_GROUP_SUMMARY_SELECT = """
    SELECT g.id, g.name, g.private, g.kind, g.created_at,
           (SELECT count(*) FROM group_members c WHERE c.group_id = g.id)::int AS member_count,
           me.role,
           CASE WHEN me.role IS NULL THEN 0 ELSE
             (SELECT count(*) FROM (SELECT 1 FROM messages m
               WHERE m.group_id = g.id AND m.id > me.last_read_message_id AND m.user_id <> %(u)s
               LIMIT 100) unread_capped)
           END::int AS unread
    FROM groups g
    LEFT JOIN group_members me ON me.group_id = g.id AND me.user_id = %(u)s
"""


class ChatStore:
    """Every query the chat needs, over one :class:`Database`."""

    def __init__(self, db: Database) -> None:
        self._db = db

    # ------------------------------------------------------------ users

    def create_user(
        self, username: str, password_hash: str, *, email: str | None = None, nickname: str | None = None
    ) -> UserRow:
        """Insert a user; :class:`Conflict` if the username is taken."""
        try:
            with self._db.connection() as conn, conn.cursor(row_factory=class_row(UserRow)) as cur:
                cur.execute(
                    "INSERT INTO users (username, password_hash, email, nickname) VALUES (%s, %s, %s, %s)"
                    " RETURNING id, username, email, nickname, avatar, created_at",
                    (username, password_hash, email, nickname),
                )
                row = cur.fetchone()
        except pg_errors.UniqueViolation:
            raise Conflict("username is taken") from None
        assert row is not None
        return row

    def get_user(self, user_id: int) -> UserRow | None:
        with self._db.connection() as conn, conn.cursor(row_factory=class_row(UserRow)) as cur:
            cur.execute(
                "SELECT id, username, email, nickname, avatar, created_at FROM users WHERE id = %s",
                (user_id,),
            )
            return cur.fetchone()

    def get_user_by_username(self, username: str) -> UserRow | None:
        with self._db.connection() as conn, conn.cursor(row_factory=class_row(UserRow)) as cur:
            cur.execute(
                "SELECT id, username, email, nickname, avatar, created_at FROM users WHERE username = %s",
                (username,),
            )
            return cur.fetchone()

    def username_taken(self, username: str) -> bool:
        """True when a user has this username in any letter case ("Alice" blocks "alice")."""
        with self._db.connection() as conn:
            row = conn.execute("SELECT 1 FROM users WHERE lower(username) = lower(%s) LIMIT 1", (username,)).fetchone()
        return row is not None

    def get_credentials(self, username: str) -> Credentials | None:
        with self._db.connection() as conn, conn.cursor(row_factory=class_row(Credentials)) as cur:
            cur.execute("SELECT id, username, password_hash FROM users WHERE username = %s", (username,))
            return cur.fetchone()

    def update_profile(self, user_id: int, changes: dict[str, str | None]) -> UserRow:
        """Set any of nickname, avatar and email; other keys are refused."""
        allowed = {"nickname", "avatar", "email"}
        if not set(changes) <= allowed:
            raise ValueError(f"cannot change {sorted(set(changes) - allowed)}")
        # Column names come from the fixed allow-list above; values are parameters.
        assignments = ", ".join(f"{column} = %({column})s" for column in sorted(changes))
        with self._db.connection() as conn, conn.cursor(row_factory=class_row(UserRow)) as cur:
            if assignments:
                cur.execute(
                    f"UPDATE users SET {assignments} WHERE id = %(id)s"  # noqa: S608
                    " RETURNING id, username, email, nickname, avatar, created_at",
                    {**changes, "id": user_id},
                )
            else:
                cur.execute(
                    "SELECT id, username, email, nickname, avatar, created_at FROM users WHERE id = %(id)s",
                    {"id": user_id},
                )
            row = cur.fetchone()
        if row is None:
            raise NotFound("user not found")
        return row

    def delete_user(self, user_id: int) -> bool:
        with self._db.connection() as conn:
            return conn.execute("DELETE FROM users WHERE id = %s", (user_id,)).rowcount > 0

    def search_nicknames(
        self, prefix: str, *, limit: int, offset: int, exclude_user: int | None = None
    ) -> list[NicknameRow]:
        """Users whose nickname or username starts with ``prefix`` (case-insensitive), by username."""
        pattern = _like_prefix(prefix)
        with self._db.connection() as conn, conn.cursor(row_factory=class_row(NicknameRow)) as cur:
            cur.execute(
                "SELECT id, username, nickname FROM users"
                " WHERE (lower(username) LIKE %(p)s OR lower(coalesce(nickname, '')) LIKE %(p)s)"
                " AND (%(ex)s::bigint IS NULL OR id <> %(ex)s::bigint)"
                " ORDER BY username LIMIT %(limit)s OFFSET %(offset)s",
                {"p": pattern, "ex": exclude_user, "limit": limit, "offset": offset},
            )
            return cur.fetchall()

    # ------------------------------------------------------------ groups and members

    def create_group(self, name: str, *, private: bool, created_by: int) -> GroupRow:
        """Create a group with ``created_by`` as its owner."""
        with self._db.transaction() as conn, conn.cursor(row_factory=class_row(GroupRow)) as cur:
            cur.execute(
                "INSERT INTO groups (name, private, kind, created_by) VALUES (%s, %s, 'group', %s)"
                " RETURNING id, name, private, kind, created_by, created_at",
                (name, private, created_by),
            )
            group = cur.fetchone()
            assert group is not None
            cur.execute(
                "INSERT INTO group_members (user_id, group_id, role) VALUES (%s, %s, 'owner')",
                (created_by, group.id),
            )
        return group

    def get_group(self, group_id: int) -> GroupRow | None:
        with self._db.connection() as conn, conn.cursor(row_factory=class_row(GroupRow)) as cur:
            cur.execute(
                "SELECT id, name, private, kind, created_by, created_at FROM groups WHERE id = %s",
                (group_id,),
            )
            return cur.fetchone()

    def get_group_and_role(self, group_id: int, user_id: int) -> tuple[GroupRow | None, Role | None]:
        """The group and the user's role in it (None when not a member), in one round trip."""
        with self._db.connection() as conn:
            row = conn.execute(
                "SELECT g.id, g.name, g.private, g.kind, g.created_by, g.created_at, gm.role"
                " FROM groups g LEFT JOIN group_members gm ON gm.group_id = g.id AND gm.user_id = %s"
                " WHERE g.id = %s",
                (user_id, group_id),
            ).fetchone()
        if row is None:
            return None, None
        return GroupRow(*row[:6]), row[6]

    def list_groups(self, user_id: int) -> list[GroupSummary]:
        """Public groups and the private groups ``user_id`` belongs to, with counts; no direct chats."""
        with self._db.connection() as conn, conn.cursor(row_factory=class_row(GroupSummary)) as cur:
            cur.execute(
                _GROUP_SUMMARY_SELECT
                + " WHERE g.kind = 'group' AND (NOT g.private OR me.user_id IS NOT NULL) ORDER BY g.name, g.id",
                {"u": user_id},
            )
            return cur.fetchall()

    def get_group_summary(self, group_id: int, user_id: int) -> GroupSummary | None:
        """One group or direct chat as ``user_id`` sees it (counts, role, unread); no access check."""
        with self._db.connection() as conn, conn.cursor(row_factory=class_row(GroupSummary)) as cur:
            cur.execute(_GROUP_SUMMARY_SELECT + " WHERE g.id = %(g)s", {"u": user_id, "g": group_id})
            return cur.fetchone()

    def get_role(self, group_id: int, user_id: int) -> Role | None:
        with self._db.connection() as conn:
            row = conn.execute(
                "SELECT role FROM group_members WHERE group_id = %s AND user_id = %s", (group_id, user_id)
            ).fetchone()
        return row[0] if row else None

    def add_member(self, group_id: int, user_id: int, role: Role = "member") -> bool:
        """Add ``user_id`` to the group; False if already a member."""
        with self._db.connection() as conn:
            cur = conn.execute(
                "INSERT INTO group_members (user_id, group_id, role) VALUES (%s, %s, %s)"
                " ON CONFLICT (user_id, group_id) DO NOTHING",
                (user_id, group_id, role),
            )
            return cur.rowcount > 0

    def remove_member(self, group_id: int, user_id: int) -> bool:
        with self._db.connection() as conn:
            cur = conn.execute("DELETE FROM group_members WHERE group_id = %s AND user_id = %s", (group_id, user_id))
            return cur.rowcount > 0

    def list_members(self, group_id: int) -> list[MemberRow]:
        with self._db.connection() as conn, conn.cursor(row_factory=class_row(MemberRow)) as cur:
            cur.execute(
                "SELECT u.id, u.username, u.nickname, gm.role, gm.last_read_message_id"
                " FROM group_members gm JOIN users u ON u.id = gm.user_id"
                " WHERE gm.group_id = %s ORDER BY u.username",
                (group_id,),
            )
            return cur.fetchall()

    # ------------------------------------------------------------ direct chats

    def get_or_create_direct(self, user_id: int, other_id: int) -> GroupRow:
        """The private 1:1 room of two users, created on first request (race-safe)."""
        key = direct_key(user_id, other_id)
        with self._db.transaction() as conn, conn.cursor(row_factory=class_row(GroupRow)) as cur:
            cur.execute(
                "INSERT INTO groups (name, private, kind, direct_key, created_by)"
                " VALUES (%s, true, 'direct', %s, %s) ON CONFLICT (direct_key) DO NOTHING"
                " RETURNING id, name, private, kind, created_by, created_at",
                (f"direct:{key}", key, user_id),
            )
            group = cur.fetchone()
            if group is None:
                cur.execute(
                    "SELECT id, name, private, kind, created_by, created_at FROM groups WHERE direct_key = %s",
                    (key,),
                )
                group = cur.fetchone()
                assert group is not None
            else:
                cur.execute(
                    "INSERT INTO group_members (user_id, group_id, role) VALUES (%s, %s, 'member'), (%s, %s, 'member')"
                    " ON CONFLICT DO NOTHING",
                    (user_id, group.id, other_id, group.id),
                )
        return group

    def list_direct(self, user_id: int) -> list[DirectSummary]:
        with self._db.connection() as conn, conn.cursor(row_factory=class_row(DirectSummary)) as cur:
            cur.execute(
                """
                SELECT g.id, o.id AS other_id, o.username AS other_username, o.nickname AS other_nickname,
                       (SELECT count(*) FROM (SELECT 1 FROM messages m
                         WHERE m.group_id = g.id AND m.id > me.last_read_message_id AND m.user_id <> %(u)s
                         LIMIT 100) unread_capped)::int AS unread,
                       (SELECT max(m.id) FROM messages m WHERE m.group_id = g.id) AS last_message_id
                FROM groups g
                JOIN group_members me ON me.group_id = g.id AND me.user_id = %(u)s
                JOIN group_members om ON om.group_id = g.id AND om.user_id <> %(u)s
                JOIN users o ON o.id = om.user_id
                WHERE g.kind = 'direct'
                ORDER BY last_message_id DESC NULLS LAST, g.id DESC
                """,
                {"u": user_id},
            )
            return cur.fetchall()

    # ------------------------------------------------------------ messages

    def save_message(self, group_id: int, user_id: int, text: str, client_msg_id: str | None) -> SavedMessage:
        """Store a message once per ``(user, clientMsgId)``; a retry returns the stored one."""
        with self._db.connection() as conn, conn.cursor(row_factory=class_row(MessageRow)) as cur:
            cur.execute(
                f"""
                WITH inserted AS (
                    INSERT INTO messages (group_id, user_id, content, client_msg_id)
                    VALUES (%(g)s, %(u)s, %(t)s, %(c)s)
                    ON CONFLICT (user_id, client_msg_id) DO NOTHING
                    RETURNING *
                )
                SELECT {_MESSAGE_COLUMNS} FROM inserted m JOIN users u ON u.id = m.user_id
                """,  # noqa: S608 - the interpolated text is a constant column list
                {"g": group_id, "u": user_id, "t": text, "c": client_msg_id},
            )
            row = cur.fetchone()
            if row is not None:
                return SavedMessage(row, created=True)
            cur.execute(
                f"SELECT {_MESSAGE_COLUMNS} FROM messages m JOIN users u ON u.id = m.user_id"  # noqa: S608
                " WHERE m.user_id = %s AND m.client_msg_id = %s",
                (user_id, client_msg_id),
            )
            existing = cur.fetchone()
        if existing is None:  # the conflicting row was deleted in between: vanishingly rare
            raise Conflict("message retry raced with a deletion")
        return SavedMessage(existing, created=False)

    def latest_messages(self, group_id: int, limit: int) -> tuple[list[MessageRow], bool]:
        """The newest ``limit`` messages oldest first, and whether older ones exist."""
        return self._page(group_id, limit, "TRUE", {})

    def messages_before(self, group_id: int, before: int, limit: int) -> tuple[list[MessageRow], bool]:
        """Up to ``limit`` messages with id < ``before``, oldest first, and whether older ones exist."""
        return self._page(group_id, limit, "m.id < %(before)s", {"before": before})

    def messages_after(self, group_id: int, since: int, limit: int) -> tuple[list[MessageRow], bool]:
        """The newest ``limit`` messages with id > ``since``, oldest first; True when some were left out."""
        return self._page(group_id, limit, "m.id > %(since)s", {"since": since})

    def _page(self, group_id: int, limit: int, condition: str, params: dict[str, Any]) -> tuple[list[MessageRow], bool]:
        with self._db.connection() as conn, conn.cursor(row_factory=class_row(MessageRow)) as cur:
            cur.execute(
                f"SELECT {_MESSAGE_COLUMNS} FROM messages m JOIN users u ON u.id = m.user_id"  # noqa: S608
                # Ordered as the (group_id, id) index is, so the planner walks that index even for a room
                # whose messages are all old (ORDER BY id alone can pick the primary key, backwards).
                f" WHERE m.group_id = %(g)s AND {condition} ORDER BY m.group_id DESC, m.id DESC LIMIT %(n)s",
                {**params, "g": group_id, "n": limit + 1},
            )
            rows = cur.fetchall()
        has_more = len(rows) > limit
        page = rows[:limit]
        page.reverse()
        return page, has_more

    def mark_read(self, group_id: int, user_id: int, message_id: int) -> int | None:
        """Move the user's read marker forward (never back); the marker now stored, None if not a member."""
        with self._db.connection() as conn:
            row = conn.execute(
                "UPDATE group_members SET last_read_message_id ="
                " GREATEST(last_read_message_id, LEAST(%s, (SELECT coalesce(max(id), 0) FROM messages"
                "   WHERE group_id = %s)))"
                " WHERE group_id = %s AND user_id = %s RETURNING last_read_message_id",
                (message_id, group_id, group_id, user_id),
            ).fetchone()
        return row[0] if row else None

    # ------------------------------------------------------------ tags

    def list_tags(self, user_id: int) -> list[str]:
        with self._db.connection() as conn:
            rows = conn.execute(
                "SELECT tag_name FROM user_tags WHERE user_id = %s ORDER BY tag_name", (user_id,)
            ).fetchall()
        return [r[0] for r in rows]

    def top_tags(self, limit: int) -> list[TagCount]:
        with self._db.connection() as conn, conn.cursor(row_factory=class_row(TagCount)) as cur:
            cur.execute(
                "SELECT tag_name, count(*)::int AS count FROM user_tags GROUP BY tag_name"
                " ORDER BY count(*) DESC, tag_name LIMIT %s",
                (limit,),
            )
            return cur.fetchall()

    def add_tag(self, user_id: int, tag_name: str) -> bool:
        """Tag the user; False if the tag was already there."""
        with self._db.connection() as conn:
            cur = conn.execute(
                "INSERT INTO user_tags (user_id, tag_name) VALUES (%s, %s) ON CONFLICT DO NOTHING",
                (user_id, tag_name),
            )
            return cur.rowcount > 0

    def remove_tag(self, user_id: int, tag_name: str) -> bool:
        with self._db.connection() as conn:
            cur = conn.execute("DELETE FROM user_tags WHERE user_id = %s AND tag_name = %s", (user_id, tag_name))
            return cur.rowcount > 0

    # ------------------------------------------------------------ login throttling

    def login_failures(self, keys: list[str], window_seconds: int) -> dict[str, int]:
        """Failures counted in the current window for each key (0 when none or the window is over)."""
        with self._db.connection() as conn:
            rows = conn.execute(
                "SELECT key, failures FROM login_failures"
                " WHERE key = ANY(%s) AND window_start > now() - make_interval(secs => %s)",
                (keys, window_seconds),
            ).fetchall()
        counts = dict.fromkeys(keys, 0)
        counts.update({row[0]: row[1] for row in rows})
        return counts

    def record_login_failure(self, keys: list[str], window_seconds: int) -> None:
        """Count one failure for each key, starting a new window where the last one is over."""
        with self._db.connection() as conn:
            conn.cursor().executemany(
                "INSERT INTO login_failures (key, window_start, failures) VALUES (%(k)s, now(), 1)"
                " ON CONFLICT (key) DO UPDATE SET"
                "  failures = CASE WHEN login_failures.window_start > now() - make_interval(secs => %(w)s)"
                "    THEN login_failures.failures + 1 ELSE 1 END,"
                "  window_start = CASE WHEN login_failures.window_start > now() - make_interval(secs => %(w)s)"
                "    THEN login_failures.window_start ELSE now() END",
                [{"k": key, "w": window_seconds} for key in keys],
            )

    def clear_login_failures(self, key: str) -> None:
        with self._db.connection() as conn:
            conn.execute("DELETE FROM login_failures WHERE key = %s", (key,))


def _like_prefix(prefix: str) -> str:
    escaped = prefix.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped + "%"
