"""Messages and read markers."""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg.rows import class_row

from chatcore.errors import Conflict
from chatcore.postgres.database import Database
from chatcore.rows import MessageRow, SavedMessage

_MESSAGE_COLUMNS = "m.id, m.room_id, m.user_id, u.username, m.content, m.client_msg_id, m.created_at"


class MessageQueries:
    _db: Database

    def save_message(self, room_id: int, user_id: int, text: str, client_msg_id: str | None) -> SavedMessage:
        """Store a message once per ``(user, clientMsgId)``; a retry returns the stored one."""

        def work(conn: psycopg.Connection[Any]) -> SavedMessage:
            with conn.cursor(row_factory=class_row(MessageRow)) as cur:
                cur.execute(
                    f"""
                    WITH inserted AS (
                        INSERT INTO messages (room_id, user_id, content, client_msg_id)
                        VALUES (%(g)s, %(u)s, %(t)s, %(c)s)
                        ON CONFLICT (user_id, client_msg_id) DO NOTHING
                        RETURNING *
                    )
                    SELECT {_MESSAGE_COLUMNS} FROM inserted m JOIN users u ON u.id = m.user_id
                    """,  # noqa: S608 - the interpolated text is a constant column list
                    {"g": room_id, "u": user_id, "t": text, "c": client_msg_id},
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

        # With a clientMsgId the insert is idempotent (a retry finds the stored row); without one it is not.
        return self._db.run(work, idempotent=client_msg_id is not None)

    def latest_messages(self, room_id: int, limit: int) -> tuple[list[MessageRow], bool]:
        """The newest ``limit`` messages oldest first, and whether older ones exist."""
        return self._page(room_id, limit, "TRUE", {})

    def messages_before(self, room_id: int, before: int, limit: int) -> tuple[list[MessageRow], bool]:
        """Up to ``limit`` messages with id < ``before``, oldest first, and whether older ones exist."""
        return self._page(room_id, limit, "m.id < %(before)s", {"before": before})

    def messages_after(self, room_id: int, since: int, limit: int) -> tuple[list[MessageRow], bool]:
        """The newest ``limit`` messages with id > ``since``, oldest first; True when some were left out."""
        return self._page(room_id, limit, "m.id > %(since)s", {"since": since})

    def _page(self, room_id: int, limit: int, condition: str, params: dict[str, Any]) -> tuple[list[MessageRow], bool]:
        rows = self._db.all(
            MessageRow,
            f"SELECT {_MESSAGE_COLUMNS} FROM messages m JOIN users u ON u.id = m.user_id"  # noqa: S608
            # Ordered as the (room_id, id) index is, so the planner walks that index even for a room
            # whose messages are all old (ORDER BY id alone can pick the primary key, backwards).
            f" WHERE m.room_id = %(g)s AND {condition} ORDER BY m.room_id DESC, m.id DESC LIMIT %(n)s",
            {**params, "g": room_id, "n": limit + 1},
        )
        has_more = len(rows) > limit
        page = rows[:limit]
        page.reverse()
        return page, has_more

    def mark_read(self, room_id: int, user_id: int, message_id: int) -> int | None:
        """Move the user's read marker forward (never back); the marker now stored, None if not a member."""
        rows = self._db.values(
            "UPDATE room_members SET last_read_message_id ="
            " GREATEST(last_read_message_id, LEAST(%s, (SELECT coalesce(max(id), 0) FROM messages"
            "   WHERE room_id = %s)))"
            " WHERE room_id = %s AND user_id = %s RETURNING last_read_message_id",
            (message_id, room_id, room_id, user_id),
        )
        return rows[0][0] if rows else None
