"""Messages and read markers."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import psycopg
from psycopg.rows import class_row, dict_row

from chatcore.errors import Conflict, InvalidInput
from chatcore.postgres.database import Database
from chatcore.rows import MessageRow, SavedMessage, SearchHit

# A message as the protocol shows it: with the message it replies to, its mentions, files and reactions.
MESSAGE_COLUMNS = """
    m.id, m.room_id, m.user_id, u.username, m.content, m.client_msg_id, m.created_at,
    m.rev, m.edited_at, m.deleted_at,
    (SELECT json_build_object('id', r.id, 'sender', ru.username, 'text', left(r.content, 200),
                              'deleted', r.deleted_at IS NOT NULL)
       FROM messages r JOIN users ru ON ru.id = r.user_id WHERE r.id = m.reply_to) AS reply,
    coalesce((SELECT json_agg(mu.username ORDER BY mu.username)
                FROM message_mentions mm JOIN users mu ON mu.id = mm.user_id WHERE mm.message_id = m.id),
             '[]') AS mentions,
    coalesce((SELECT json_agg(json_build_object('id', a.id, 'name', a.name, 'size', a.size, 'type', a.content_type)
                              ORDER BY a.created_at, a.id)
                FROM attachments a WHERE a.message_id = m.id), '[]') AS attachments,
    coalesce((SELECT json_agg(json_build_object('emoji', x.emoji, 'count', x.n, 'users', x.users) ORDER BY x.first)
                FROM (SELECT mr.emoji, count(*) AS n, min(mr.created_at) AS first,
                             (array_agg(ru2.username ORDER BY mr.created_at, ru2.username))[1:20] AS users
                        FROM message_reactions mr JOIN users ru2 ON ru2.id = mr.user_id
                       WHERE mr.message_id = m.id GROUP BY mr.emoji) x), '[]') AS reactions
"""
_FROM = " FROM messages m JOIN users u ON u.id = m.user_id"
_SELECT = "SELECT " + MESSAGE_COLUMNS + _FROM
# Search: the newest SEARCH_CANDIDATES matches in rooms the caller may read (their rooms, and public groups,
# which anyone may open and join), then ranked. Capping the candidates bounds the ranking work whatever the
# word: a rare word is found through the GIN index, a word in half of all messages by walking ids backwards
# until enough match, and neither ranks more than this many rows.
SEARCH_CANDIDATES = 1000
_SEARCH = (
    "WITH hits AS ("  # noqa: S608 - constant SQL; the words are a bound parameter
    "  SELECT m.id, ts_rank(m.search, q) AS rank"
    "  FROM messages m JOIN rooms r ON r.id = m.room_id, to_tsquery('simple', %(q)s) q"
    "  WHERE m.search @@ q AND m.deleted_at IS NULL"
    "    AND (%(room)s::bigint IS NULL OR m.room_id = %(room)s::bigint)"
    "    AND (EXISTS (SELECT 1 FROM room_members me WHERE me.room_id = r.id AND me.user_id = %(u)s)"
    "         OR (r.kind = 'group' AND NOT r.private))"
    f"  ORDER BY m.id DESC LIMIT {SEARCH_CANDIDATES})"
    " SELECT " + MESSAGE_COLUMNS + ", r.name AS room_name, r.kind AS room_kind, h.rank"
    " FROM hits h JOIN messages m ON m.id = h.id JOIN users u ON u.id = m.user_id JOIN rooms r ON r.id = m.room_id"
    " WHERE %(last_rank)s::real IS NULL OR (h.rank, m.id) < (%(last_rank)s::real, %(last_id)s::bigint)"
    " ORDER BY h.rank DESC, m.id DESC LIMIT %(n)s"
)


class MessageQueries:
    _db: Database

    def save_message(
        self,
        room_id: int,
        user_id: int,
        text: str,
        client_msg_id: str | None,
        *,
        reply_to: int | None = None,
        mention_ids: Sequence[int] = (),
        attachment_ids: Sequence[str] = (),
    ) -> SavedMessage:
        """Store a message once per ``(user, clientMsgId)``; a retry returns the stored one.

        In one transaction with its mentions and its files: :class:`InvalidInput` (nothing stored) when an
        attachment is not the sender's, is for another room, or was sent already.
        """

        def work(conn: psycopg.Connection[Any]) -> SavedMessage:
            inserted = conn.execute(
                "INSERT INTO messages (room_id, user_id, content, client_msg_id, reply_to)"
                " VALUES (%s, %s, %s, %s, %s) ON CONFLICT (user_id, client_msg_id) DO NOTHING RETURNING id",
                (room_id, user_id, text, client_msg_id, reply_to),
            ).fetchone()
            if inserted is None:
                existing = _one(
                    conn, _SELECT + " WHERE m.user_id = %s AND m.client_msg_id = %s", (user_id, client_msg_id)
                )
                if existing is None:  # the conflicting row was deleted in between: vanishingly rare
                    raise Conflict("message retry raced with a deletion")
                return SavedMessage(existing, created=False)
            message_id = inserted[0]
            if mention_ids:
                conn.execute(
                    "INSERT INTO message_mentions (message_id, user_id) SELECT %s, unnest(%s::bigint[])"
                    " ON CONFLICT DO NOTHING",
                    (message_id, list(mention_ids)),
                )
            if attachment_ids:
                attached = conn.execute(
                    "UPDATE attachments SET message_id = %s WHERE id = ANY(%s::uuid[])"
                    " AND room_id = %s AND uploader_id = %s AND message_id IS NULL",
                    (message_id, list(attachment_ids), room_id, user_id),
                ).rowcount
                if attached != len(set(attachment_ids)):
                    raise InvalidInput("attachments", "an attachment is unknown, another room's, or already sent")
            row = _one(conn, _SELECT + " WHERE m.id = %s", (message_id,))
            assert row is not None
            return SavedMessage(row, created=True)

        # With a clientMsgId the insert is idempotent (a retry finds the stored row); without one it is not.
        return self._db.transaction(work, idempotent=client_msg_id is not None)

    def message(self, room_id: int, message_id: int) -> MessageRow | None:
        """One message of the room (a tombstone included), or None."""
        return self._db.one(MessageRow, _SELECT + " WHERE m.room_id = %s AND m.id = %s", (room_id, message_id))

    def edit_message(self, room_id: int, message_id: int, text: str, mention_ids: Sequence[int]) -> MessageRow | None:
        """Replace a (not deleted) message's text and mentions, as a new revision; the message, or None."""

        def work(conn: psycopg.Connection[Any]) -> MessageRow | None:
            edited = conn.execute(
                "UPDATE messages SET content = %s, edited_at = now(), rev = nextval('message_revisions')"
                " WHERE room_id = %s AND id = %s AND deleted_at IS NULL RETURNING id",
                (text, room_id, message_id),
            ).fetchone()
            if edited is None:
                return None
            conn.execute("DELETE FROM message_mentions WHERE message_id = %s", (message_id,))
            if mention_ids:
                conn.execute(
                    "INSERT INTO message_mentions (message_id, user_id) SELECT %s, unnest(%s::bigint[])",
                    (message_id, list(mention_ids)),
                )
            return _one(conn, _SELECT + " WHERE m.id = %s", (message_id,))

        return self._db.transaction(work)

    def delete_message(self, room_id: int, message_id: int) -> tuple[MessageRow, list[str]] | None:
        """Make the message a tombstone: its text, mentions, reactions and files are gone from the database
        (the row keeps its id and place); the tombstone and the ids of the files to delete, or None."""

        def work(conn: psycopg.Connection[Any]) -> tuple[MessageRow, list[str]] | None:
            deleted = conn.execute(
                "UPDATE messages SET content = '', deleted_at = now(), edited_at = NULL,"
                " rev = nextval('message_revisions') WHERE room_id = %s AND id = %s AND deleted_at IS NULL"
                " RETURNING id",
                (room_id, message_id),
            ).fetchone()
            if deleted is None:
                return None
            conn.execute("DELETE FROM message_mentions WHERE message_id = %s", (message_id,))
            conn.execute("DELETE FROM message_reactions WHERE message_id = %s", (message_id,))
            files = conn.execute("DELETE FROM attachments WHERE message_id = %s RETURNING id", (message_id,)).fetchall()
            row = _one(conn, _SELECT + " WHERE m.id = %s", (message_id,))
            assert row is not None
            return row, [str(f[0]) for f in files]

        return self._db.transaction(work)

    def toggle_reaction(self, room_id: int, message_id: int, user_id: int, emoji: str) -> MessageRow | None:
        """Add the user's ``emoji`` to the message, or take it back if it was there; the message, or None
        (no such message, or a tombstone)."""

        def work(conn: psycopg.Connection[Any]) -> MessageRow | None:
            bumped = conn.execute(
                "UPDATE messages SET rev = nextval('message_revisions')"
                " WHERE room_id = %s AND id = %s AND deleted_at IS NULL RETURNING id",
                (room_id, message_id),
            ).fetchone()
            if bumped is None:
                return None
            removed = conn.execute(
                "DELETE FROM message_reactions WHERE message_id = %s AND user_id = %s AND emoji = %s",
                (message_id, user_id, emoji),
            ).rowcount
            if not removed:
                conn.execute(
                    "INSERT INTO message_reactions (message_id, user_id, emoji) VALUES (%s, %s, %s)",
                    (message_id, user_id, emoji),
                )
            return _one(conn, _SELECT + " WHERE m.id = %s", (message_id,))

        # Not retried: a toggle that went through would be toggled back.
        return self._db.transaction(work, idempotent=False)

    def changes_after(self, room_id: int, *, up_to: int, since_rev: int, limit: int) -> tuple[list[MessageRow], bool]:
        """Messages up to id ``up_to`` changed after revision ``since_rev``, oldest change first; True when some
        were left out."""
        rows = self._db.all(
            MessageRow,
            _SELECT + " WHERE m.room_id = %s AND m.id <= %s AND m.rev > %s ORDER BY m.room_id, m.rev LIMIT %s",
            (room_id, up_to, since_rev, limit + 1),
        )
        return rows[:limit], len(rows) > limit

    def search_messages(
        self,
        user_id: int,
        words: Sequence[str],
        *,
        room_id: int | None = None,
        after: tuple[float, int] | None = None,
        limit: int = 20,
    ) -> tuple[list[SearchHit], bool]:
        """Messages matching every word of ``words`` by prefix, in rooms ``user_id`` may read (their rooms and
        public groups), best match first (then newest), after the (rank, id) ``after``; and whether more follow.
        Ranked among the newest :data:`SEARCH_CANDIDATES` matches.

        ``words`` must be plain words (letters and digits): they become a ``word:* & ...`` text-search query
        matched against the GIN-indexed ``search`` column.
        """
        query = " & ".join(f"{word}:*" for word in words)
        last_rank, last_id = after if after else (None, 0)

        def work(conn: psycopg.Connection[Any]) -> list[dict[str, Any]]:
            with conn.cursor(row_factory=dict_row) as cur:
                cur.execute(
                    _SEARCH,
                    {
                        "q": query,
                        "room": room_id,
                        "u": user_id,
                        "last_rank": last_rank,
                        "last_id": last_id,
                        "n": limit + 1,
                    },
                )
                return cur.fetchall()

        rows = self._db.run(work)
        hits = [
            SearchHit(
                message=MessageRow(**{k: v for k, v in row.items() if k not in ("room_name", "room_kind", "rank")}),
                room_name=row["room_name"],
                room_kind=row["room_kind"],
                rank=float(row["rank"]),
            )
            for row in rows
        ]
        return hits[:limit], len(hits) > limit

    def member_ids_by_username(self, room_id: int, usernames: Sequence[str]) -> list[int]:
        """The ids of the room's members among ``usernames`` (compared in any letter case)."""
        rows = self._db.values(
            "SELECT u.id FROM room_members m JOIN users u ON u.id = m.user_id"
            " WHERE m.room_id = %s AND lower(u.username) = ANY(%s)",
            (room_id, [name.lower() for name in usernames]),
        )
        return [int(r[0]) for r in rows]

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
            # Ordered as the (room_id, id) index is, so the planner walks that index even for a room
            # whose messages are all old (ORDER BY id alone can pick the primary key, backwards).
            _SELECT + f" WHERE m.room_id = %(g)s AND {condition} ORDER BY m.room_id DESC, m.id DESC LIMIT %(n)s",
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


def _one(conn: psycopg.Connection[Any], sql: str, params: Sequence[Any]) -> MessageRow | None:
    with conn.cursor(row_factory=class_row(MessageRow)) as cur:
        cur.execute(sql, params)
        return cur.fetchone()
