"""``/rooms/{id}/attachments`` and ``/attachments/{id}``: files go to and come from S3 by presigned URLs."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Path

from chatcore.fields import MAX_ATTACHMENT_BYTES, MAX_DB_ID
from chatcore.http.models import DownloadOut, UploadOut, UploadRequest
from chatcore.http.routing import (
    BEARER,
    CREATED,
    FORBIDDEN,
    NOT_FOUND,
    OK,
    TOO_MANY,
    UNAUTHORIZED,
    area_router,
    caller,
    created,
    documented,
    services,
)

router = area_router()


@router.post(
    "/rooms/<room_id>/attachments",
    status_code=201,
    security=BEARER,
    responses=documented(CREATED, UNAUTHORIZED, FORBIDDEN, NOT_FOUND, TOO_MANY),
    tags=["attachments"],
)
def start_upload(room_id: Annotated[int, Path(ge=1, le=MAX_DB_ID)], body: UploadRequest) -> Response[UploadOut]:
    """Announce a file for the room (members only) and get the presigned POST that uploads it to S3: S3
    accepts exactly ``size`` bytes of ``type`` for ten minutes. Send its ``id`` in a ``message``."""
    upload = services(router).attachments.start_upload(
        caller(router), room_id, name=body.name, size=body.size, content_type=body.type
    )
    return created(
        UploadOut(
            id=upload.id,
            url=upload.url,
            fields=upload.fields,
            expires_at=upload.expires_at,
            max_bytes=MAX_ATTACHMENT_BYTES,
        )
    )


@router.get(
    "/attachments/<attachment_id>",
    security=BEARER,
    responses=documented(OK, UNAUTHORIZED, FORBIDDEN, NOT_FOUND),
    tags=["attachments"],
)
def download(attachment_id: Annotated[UUID, Path()]) -> DownloadOut:
    """A URL that downloads a sent file for five minutes, for members of its room only."""
    got = services(router).attachments.download(caller(router), str(attachment_id))
    row = got.attachment
    return DownloadOut(
        url=got.url,
        expires_at=got.expires_at,
        id=row.id,
        name=row.name,
        size=row.size,
        type=row.content_type,
        inline=got.inline,
    )
