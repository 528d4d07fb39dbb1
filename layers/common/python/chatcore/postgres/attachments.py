"""Files uploaded for a room: recorded before the upload, attached when a message names them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import psycopg

from chatcore.postgres.database import Database
from chatcore.rows import AttachmentRow

_COLUMNS = "id::text AS id, room_id, uploader_id, message_id, name, size, content_type"


class AttachmentQueries:
    _db: Database

    def create_attachment(
        self, attachment_id: str, room_id: int, uploader_id: int, *, name: str, size: int, content_type: str
    ) -> None:
        """Record a file about to be uploaded; the uploader's files announced over a day ago and never sent go
        (their objects, still tagged pending, the bucket's lifecycle rule has deleted)."""

        def work(conn: psycopg.Connection[Any]) -> None:
            conn.execute(
                "DELETE FROM attachments WHERE uploader_id = %s AND message_id IS NULL"
                " AND created_at < now() - interval '1 day'",
                (uploader_id,),
            )
            conn.execute(
                "INSERT INTO attachments (id, room_id, uploader_id, name, size, content_type)"
                " VALUES (%s, %s, %s, %s, %s, %s)",
                (attachment_id, room_id, uploader_id, name, size, content_type),
            )

        self._db.transaction(work)

    def attachment(self, attachment_id: str) -> AttachmentRow | None:
        sql = f"SELECT {_COLUMNS} FROM attachments WHERE id = %s::uuid"  # noqa: S608 - a constant column list
        return self._db.one(AttachmentRow, sql, (attachment_id,))

    def attachments(self, attachment_ids: Sequence[str]) -> list[AttachmentRow]:
        sql = f"SELECT {_COLUMNS} FROM attachments WHERE id = ANY(%s::uuid[]) ORDER BY created_at, id"  # noqa: S608 - a constant column list
        return self._db.all(AttachmentRow, sql, (list(attachment_ids),))

    def attachments_created_since(self, user_id: int, seconds: int) -> int:
        """How many files the user announced in the last ``seconds`` (the upload quota)."""
        rows = self._db.values(
            "SELECT count(*) FROM attachments"
            " WHERE uploader_id = %s AND created_at > now() - make_interval(secs => %s)",
            (user_id, seconds),
        )
        return int(rows[0][0])
