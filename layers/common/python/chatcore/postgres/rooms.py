"""Rooms (groups and direct chats) and their members."""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg.rows import class_row

from chatcore.postgres.database import Database
from chatcore.rows import Conversation, DirectSummary, MemberRow, Role, RoomKind, RoomRow, RoomSummary
from chatcore.rules import direct_key

_ROOM_COLUMNS = "id, name, private, kind, created_by, created_at, description, shards, member_count"

# Unread messages of one user (%(u)s) in room r, counted up to 100 so a long-quiet reader costs no more
# than a busy one.
_UNREAD = """
    (SELECT count(*) FROM (SELECT 1 FROM messages m
      WHERE m.room_id = r.id AND m.id > me.last_read_message_id AND m.user_id <> %(u)s AND m.deleted_at IS NULL
      LIMIT 100) unread_capped)::int
"""

# A room as one user (%(u)s) sees it; callers append the WHERE clause.
_SUMMARY_SELECT = f"""
    SELECT r.id, r.name, r.private, r.kind, r.created_at,
           (SELECT count(*) FROM room_members c WHERE c.room_id = r.id)::int AS member_count,
           me.role,
           CASE WHEN me.role IS NULL THEN 0 ELSE {_UNREAD} END AS unread,
           r.description
    FROM rooms r
    LEFT JOIN room_members me ON me.room_id = r.id AND me.user_id = %(u)s
"""  # noqa: S608 - constant SQL fragments


_UPDATE_GROUP = (
    "UPDATE rooms SET name = coalesce(%(name)s, name), description = coalesce(%(d)s, description)"  # noqa: S608
    f" WHERE id = %(r)s AND kind = 'group' RETURNING {_ROOM_COLUMNS}"
)


class RoomQueries:
    _db: Database

    def create_group(self, name: str, *, private: bool, created_by: int) -> RoomRow:
        """Create a group with ``created_by`` as its owner."""

        def work(conn: psycopg.Connection[Any]) -> RoomRow:
            with conn.cursor(row_factory=class_row(RoomRow)) as cur:
                cur.execute(
                    "INSERT INTO rooms (name, private, kind, created_by) VALUES (%s, %s, 'group', %s)"  # noqa: S608 - a constant column list
                    f" RETURNING {_ROOM_COLUMNS}",
                    (name, private, created_by),
                )
                room = cur.fetchone()
                assert room is not None
                cur.execute(
                    "INSERT INTO room_members (user_id, room_id, role) VALUES (%s, %s, 'owner')",
                    (created_by, room.id),
                )
            return room._replace(member_count=1)  # the trigger counted the owner after RETURNING

        # Not retried: a commit lost with the connection would create the group twice.
        return self._db.transaction(work, idempotent=False)

    def room_and_role(self, room_id: int, user_id: int) -> tuple[RoomRow | None, Role | None]:
        """The room and the user's role in it (None when not a member), in one round trip."""
        rows = self._db.values(
            "SELECT r.id, r.name, r.private, r.kind, r.created_by, r.created_at, r.description, r.shards,"
            " r.member_count, m.role"
            " FROM rooms r LEFT JOIN room_members m ON m.room_id = r.id AND m.user_id = %s"
            " WHERE r.id = %s",
            (user_id, room_id),
        )
        if not rows:
            return None, None
        return RoomRow(*rows[0][:9]), rows[0][9]

    def groups_page(
        self, user_id: int, *, mine: bool = False, after: tuple[str, int] | None = None, limit: int = 50
    ) -> tuple[list[RoomSummary], bool]:
        """Public groups and ``user_id``'s private ones (only the user's own with ``mine``), by name then id,
        after the (name, id) ``after`` if given; and whether more follow. No direct chats."""
        scope = "me.user_id IS NOT NULL" if mine else "(NOT r.private OR me.user_id IS NOT NULL)"
        rows = self._db.all(
            RoomSummary,
            _SUMMARY_SELECT + f" WHERE r.kind = 'group' AND {scope}"
            " AND (%(after_name)s::text IS NULL OR (r.name, r.id) > (%(after_name)s::text, %(after_id)s::bigint))"
            " ORDER BY r.name, r.id LIMIT %(n)s",
            {
                "u": user_id,
                "after_name": after[0] if after else None,
                "after_id": after[1] if after else 0,
                "n": limit + 1,
            },
        )
        return rows[:limit], len(rows) > limit

    def rooms_created_since(self, user_id: int, kind: RoomKind, seconds: int) -> int:
        """How many rooms of ``kind`` ``user_id`` created in the last ``seconds`` (for the account's caps)."""
        rows = self._db.values(
            "SELECT count(*) FROM rooms WHERE created_by = %s AND kind = %s"
            " AND created_at > now() - make_interval(secs => %s)",
            (user_id, kind, seconds),
        )
        return int(rows[0][0])

    def direct_room(self, user_id: int, other_id: int) -> RoomRow | None:
        """The 1:1 room of two users if it exists."""
        sql = f"SELECT {_ROOM_COLUMNS} FROM rooms WHERE direct_key = %s"  # noqa: S608 - a constant column list
        return self._db.one(RoomRow, sql, (direct_key(user_id, other_id),))

    def room_summary(self, room_id: int, user_id: int) -> RoomSummary | None:
        """One room as ``user_id`` sees it (counts, role, unread); no access check."""
        return self._db.one(RoomSummary, _SUMMARY_SELECT + " WHERE r.id = %(g)s", {"u": user_id, "g": room_id})

    def add_member(self, room_id: int, user_id: int, role: Role = "member") -> bool:
        """Add ``user_id`` to the room; False if already a member."""
        added = self._db.execute(
            "INSERT INTO room_members (user_id, room_id, role) VALUES (%s, %s, %s)"
            " ON CONFLICT (user_id, room_id) DO NOTHING",
            (user_id, room_id, role),
        )
        return added > 0

    def remove_member(self, room_id: int, user_id: int) -> bool:
        return self._db.execute("DELETE FROM room_members WHERE room_id = %s AND user_id = %s", (room_id, user_id)) > 0

    def list_members(self, room_id: int) -> list[MemberRow]:
        return self._db.all(
            MemberRow,
            "SELECT u.id, u.username, u.nickname, m.role, m.last_read_message_id"
            " FROM room_members m JOIN users u ON u.id = m.user_id"
            " WHERE m.room_id = %s ORDER BY u.username",
            (room_id,),
        )

    def member_ids(self, room_id: int, *, limit: int) -> list[int]:
        """Up to ``limit`` of the room's members' ids."""
        rows = self._db.values("SELECT user_id FROM room_members WHERE room_id = %s LIMIT %s", (room_id, limit))
        return [int(r[0]) for r in rows]

    def members_page(self, room_id: int, *, after: str | None, limit: int) -> tuple[list[MemberRow], bool]:
        """Up to ``limit`` members by username, after ``after`` if given, and whether more follow."""
        rows = self._db.all(
            MemberRow,
            "SELECT u.id, u.username, u.nickname, m.role, m.last_read_message_id"
            " FROM room_members m JOIN users u ON u.id = m.user_id"
            " WHERE m.room_id = %(r)s AND (%(after)s::text IS NULL OR u.username > %(after)s::text)"
            " ORDER BY u.username LIMIT %(n)s",
            {"r": room_id, "after": after, "n": limit + 1},
        )
        return rows[:limit], len(rows) > limit

    # ------------------------------------------------------------ direct chats

    def get_or_create_direct(self, user_id: int, other_id: int) -> RoomRow:
        """The private 1:1 room of two users, created on first request (race-safe, so safe to retry)."""
        key = direct_key(user_id, other_id)

        def work(conn: psycopg.Connection[Any]) -> RoomRow:
            with conn.cursor(row_factory=class_row(RoomRow)) as cur:
                cur.execute(
                    "INSERT INTO rooms (name, private, kind, direct_key, created_by)"  # noqa: S608 - a constant column list
                    " VALUES (%s, true, 'direct', %s, %s) ON CONFLICT (direct_key) DO NOTHING"
                    f" RETURNING {_ROOM_COLUMNS}",
                    (f"direct:{key}", key, user_id),
                )
                room = cur.fetchone()
                if room is not None:
                    cur.execute(
                        "INSERT INTO room_members (user_id, room_id, role)"
                        " VALUES (%s, %s, 'member'), (%s, %s, 'member') ON CONFLICT DO NOTHING",
                        (user_id, room.id, other_id, room.id),
                    )
                    return room._replace(member_count=2)
                cur.execute(f"SELECT {_ROOM_COLUMNS} FROM rooms WHERE direct_key = %s", (key,))  # noqa: S608
                existing = cur.fetchone()
                assert existing is not None
                return existing

        return self._db.transaction(work)

    def direct_page(
        self, user_id: int, *, after: tuple[int, int] | None = None, limit: int = 50
    ) -> tuple[list[DirectSummary], bool]:
        """``user_id``'s direct chats, most recently active first (then newest room), after the
        (last message id, room id) ``after`` if given; and whether more follow."""
        rows = self._db.all(
            DirectSummary,
            f"""
            SELECT * FROM (
                SELECT r.id, o.id AS other_id, o.username AS other_username, o.nickname AS other_nickname,
                       {_UNREAD} AS unread,
                       (SELECT max(m.id) FROM messages m WHERE m.room_id = r.id) AS last_message_id
                FROM rooms r
                JOIN room_members me ON me.room_id = r.id AND me.user_id = %(u)s
                JOIN room_members om ON om.room_id = r.id AND om.user_id <> %(u)s
                JOIN users o ON o.id = om.user_id
                WHERE r.kind = 'direct'
            ) chats
            WHERE %(after_last)s::bigint IS NULL
               OR (coalesce(last_message_id, 0), id) < (%(after_last)s::bigint, %(after_id)s::bigint)
            ORDER BY coalesce(last_message_id, 0) DESC, id DESC
            LIMIT %(n)s
            """,  # noqa: S608 - constant SQL fragments
            {
                "u": user_id,
                "after_last": after[0] if after else None,
                "after_id": after[1] if after else 0,
                "n": limit + 1,
            },
        )
        return rows[:limit], len(rows) > limit

    # ------------------------------------------------------------ the app: sidebar, live subscriptions, owners

    def member_rooms(self, user_id: int, *, limit: int) -> dict[int, int]:
        """The rooms ``user_id`` belongs to (at most ``limit``, the most recently joined first), each with its
        registry shard count."""
        rows = self._db.values(
            "SELECT m.room_id, r.shards FROM room_members m JOIN rooms r ON r.id = m.room_id"
            " WHERE m.user_id = %s ORDER BY m.joined_at DESC LIMIT %s",
            (user_id, limit),
        )
        return {int(r[0]): int(r[1]) for r in rows}

    def membership_count(self, user_id: int) -> int:
        return int(self._db.values("SELECT count(*) FROM room_members WHERE user_id = %s", (user_id,))[0][0])

    def presence_contacts(self, user_id: int, *, max_room_size: int, limit: int) -> list[int]:
        """The other members of ``user_id``'s rooms of at most ``max_room_size`` members (direct chats always)."""
        rows = self._db.values(
            """
            SELECT DISTINCT other.user_id FROM room_members mine
            JOIN rooms r ON r.id = mine.room_id
            JOIN room_members other ON other.room_id = mine.room_id AND other.user_id <> mine.user_id
            WHERE mine.user_id = %(u)s
              AND (r.kind = 'direct'
                   OR (SELECT count(*) FROM room_members c WHERE c.room_id = r.id) <= %(size)s)
            LIMIT %(n)s
            """,
            {"u": user_id, "size": max_room_size, "n": limit},
        )
        return sorted(int(r[0]) for r in rows)

    def conversations_page(
        self, user_id: int, *, after: tuple[int, int] | None = None, limit: int = 50
    ) -> tuple[list[Conversation], bool]:
        """``user_id``'s rooms, most recent activity first (then the newest room), after the (last message id,
        room id) ``after`` if given, with unread counts and the latest message; and whether more follow."""
        # A PL/pgSQL function (migration 0010), so the plan is cached per connection without a prepared statement.
        rows = self._db.all(
            Conversation,
            "SELECT * FROM conversations_page(%(u)s, %(after_last)s, %(after_id)s, %(n)s)",
            {
                "u": user_id,
                "after_last": after[0] if after else None,
                "after_id": after[1] if after else 0,
                "n": limit + 1,
            },
        )
        return rows[:limit], len(rows) > limit

    def update_group(self, room_id: int, *, name: str | None, description: str | None) -> RoomRow | None:
        """Rename a group or change its description (a value left None stays)."""
        return self._db.one(RoomRow, _UPDATE_GROUP, {"name": name, "d": description, "r": room_id})

    def delete_room(self, room_id: int) -> bool:
        """Delete the room with its members and messages."""
        return self._db.execute("DELETE FROM rooms WHERE id = %s", (room_id,)) > 0

    def transfer_owner(self, room_id: int, from_user: int, to_user: int) -> bool:
        """Make ``to_user`` (a member) the owner and ``from_user`` a member, in one transaction."""

        def work(conn: psycopg.Connection[Any]) -> bool:
            promoted = conn.execute(
                "UPDATE room_members SET role = 'owner' WHERE room_id = %s AND user_id = %s AND role = 'member'",
                (room_id, to_user),
            ).rowcount
            if not promoted:
                return False
            conn.execute(
                "UPDATE room_members SET role = 'member' WHERE room_id = %s AND user_id = %s", (room_id, from_user)
            )
            return True

        return self._db.transaction(work)

    def ban(self, room_id: int, user_id: int, by: int) -> None:
        self._db.execute(
            "INSERT INTO room_bans (room_id, user_id, banned_by) VALUES (%s, %s, %s) ON CONFLICT DO NOTHING",
            (room_id, user_id, by),
        )

    def unban(self, room_id: int, user_id: int) -> None:
        self._db.execute("DELETE FROM room_bans WHERE room_id = %s AND user_id = %s", (room_id, user_id))

    def is_banned(self, room_id: int, user_id: int) -> bool:
        return bool(self._db.values("SELECT 1 FROM room_bans WHERE room_id = %s AND user_id = %s", (room_id, user_id)))


def _after(user_id: int, after: tuple[int, int] | None, limit: int) -> dict[str, Any]:
    """The parameters of a page ordered by (last message id, room id), descending."""
    return {
        "u": user_id,
        "after_last": after[0] if after else None,
        "after_id": after[1] if after else 0,
        "n": limit + 1,
    }
