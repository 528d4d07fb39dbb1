"""Attachments: a member announces a file for a room and gets a presigned POST; members download it by
short-lived presigned GET URLs. The bytes never pass through a function."""

from __future__ import annotations

import time
import uuid
from typing import TYPE_CHECKING, NamedTuple

from chatcore.errors import Forbidden, InvalidInput, LimitExceeded, NotFound
from chatcore.fields import MAX_ATTACHMENT_BYTES, clean_file_name, is_content_type, is_previewable
from chatcore.rules import Quotas, can_write

if TYPE_CHECKING:
    from chatcore.ports import Files, Store
    from chatcore.rows import AttachmentRow
    from chatcore.tokens import Identity

UPLOAD_SECONDS = 600
"""How long a presigned POST stays valid: long enough for 10 MB on a slow line."""
DOWNLOAD_SECONDS = 300
"""How long a download URL works: a leaked URL soon stops working."""


def object_key(room_id: int, attachment_id: str) -> str:
    """Where a file lives in the bucket: by room, then a random id (never the file's own name)."""
    return f"rooms/{room_id}/{attachment_id}"


class Upload(NamedTuple):
    id: str
    url: str
    fields: dict[str, str]
    expires_at: int
    """Epoch milliseconds."""


class Download(NamedTuple):
    url: str
    expires_at: int
    attachment: AttachmentRow
    inline: bool


class AttachmentService:
    def __init__(self, store: Store, files: Files | None, *, quotas: Quotas | None = None) -> None:
        self._store = store
        self._files = files
        self._quotas = quotas or Quotas()

    def _bucket(self) -> Files:
        if self._files is None:
            raise NotFound("attachments are not configured on this deployment")
        return self._files

    def start_upload(self, caller: Identity, room_id: int, *, name: str, size: int, content_type: str) -> Upload:
        """Record a file for the room and sign its upload; the id goes into the ``message`` that sends it."""
        files = self._bucket()
        _room, role = self._store.room_and_role(room_id, caller.user_id)
        if _room is None:
            raise NotFound("room not found")
        if not can_write(role):
            raise Forbidden("only members can send files to this room")
        if not 0 < size <= MAX_ATTACHMENT_BYTES:
            raise InvalidInput("size", f"a file must be 1 byte to {MAX_ATTACHMENT_BYTES // (1024 * 1024)} MB")
        if not is_content_type(content_type):
            raise InvalidInput("type", "not a media type (type/subtype)")
        file_name = clean_file_name(name)
        if not file_name:
            raise InvalidInput("name", "a file needs a name")
        hour = 3600
        if self._store.attachments_created_since(caller.user_id, hour) >= self._quotas.uploads_per_hour:
            raise LimitExceeded(f"{self._quotas.uploads_per_hour} files an hour", retry_after=hour)
        attachment_id = str(uuid.uuid4())
        self._store.create_attachment(
            attachment_id, room_id, caller.user_id, name=file_name, size=size, content_type=content_type.lower()
        )
        form = files.upload_form(
            object_key(room_id, attachment_id), size=size, content_type=content_type.lower(), expires_in=UPLOAD_SECONDS
        )
        return Upload(attachment_id, form.url, form.fields, int((time.time() + UPLOAD_SECONDS) * 1000))

    def download(self, caller: Identity, attachment_id: str) -> Download:
        """A short-lived URL for a sent file, for members of its room only."""
        files = self._bucket()
        row = self._store.attachment(attachment_id)
        if row is None or row.message_id is None:  # unknown, or announced but never sent
            raise NotFound("attachment not found")
        _room, role = self._store.room_and_role(row.room_id, caller.user_id)
        if role is None:
            raise Forbidden("only members of the room can download its files")
        inline = is_previewable(row.content_type)
        url = files.download_url(
            object_key(row.room_id, row.id),
            name=row.name,
            content_type=row.content_type,
            inline=inline,
            expires_in=DOWNLOAD_SECONDS,
        )
        return Download(url, int((time.time() + DOWNLOAD_SECONDS) * 1000), row, inline)
