"""The attachment bucket on S3: presigned uploads and downloads, tags, deletions.

Files go from the browser straight to S3 and back, never through a function: a function only signs. An
upload is a presigned POST whose policy fixes the object's key, its exact size and its content type, and
tags it ``state=pending``; the bucket's lifecycle rule expires pending objects, so a file announced but
never sent in a message does not stay. Sending it tags it ``state=sent``. Downloads are presigned GET URLs,
``inline`` for the image types a browser previews and ``attachment`` (a download) for everything else, so
an HTML or SVG file never renders as a page.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING
from urllib.parse import quote

from botocore.exceptions import BotoCoreError, ClientError

from chatcore.errors import FilesUnavailable
from chatcore.records import UploadForm

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

STATE_TAG = "state"
PENDING = "pending"
SENT = "sent"
PENDING_TAGGING = f"<Tagging><TagSet><Tag><Key>{STATE_TAG}</Key><Value>{PENDING}</Value></Tag></TagSet></Tagging>"


def content_disposition(name: str, *, inline: bool) -> str:
    """``inline`` or ``attachment``, with the file's name (RFC 6266: an ASCII fallback and the UTF-8 name)."""
    fallback = "".join(c if c.isascii() and c.isprintable() and c not in '"\\' else "_" for c in name)
    return f"{'inline' if inline else 'attachment'}; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"


class FileBucket:
    """One bucket; ``signer`` signs the URLs browsers use (the same client in AWS; locally one whose endpoint
    is the stack's public address), ``client`` makes the calls the functions make themselves."""

    def __init__(self, client: S3Client, bucket: str, *, signer: S3Client | None = None) -> None:
        self._client = client
        self._signer = signer or client
        self._bucket = bucket

    def upload_form(self, key: str, *, size: int, content_type: str, expires_in: int) -> UploadForm:
        """A POST form for exactly ``size`` bytes of ``content_type`` at ``key``: S3 refuses any other size
        (``EntityTooLarge``/``EntityTooSmall``), type, key or tagging."""
        fields = {"Content-Type": content_type, "tagging": PENDING_TAGGING}
        conditions: list[object] = [
            {"Content-Type": content_type},
            {"tagging": PENDING_TAGGING},
            ["content-length-range", size, size],
        ]
        post = self._signer.generate_presigned_post(
            self._bucket, key, Fields=fields, Conditions=conditions, ExpiresIn=expires_in
        )
        return UploadForm(url=post["url"], fields={k: str(v) for k, v in post["fields"].items()})

    def download_url(self, key: str, *, name: str, content_type: str, inline: bool, expires_in: int) -> str:
        return self._signer.generate_presigned_url(
            "get_object",
            Params={
                "Bucket": self._bucket,
                "Key": key,
                "ResponseContentDisposition": content_disposition(name, inline=inline),
                "ResponseContentType": content_type if inline else "application/octet-stream",
            },
            ExpiresIn=expires_in,
        )

    def mark_sent(self, key: str) -> bool:
        """Tag the object as sent (out of the lifecycle rule's reach); False if it was never uploaded."""
        try:
            self._client.put_object_tagging(
                Bucket=self._bucket, Key=key, Tagging={"TagSet": [{"Key": STATE_TAG, "Value": SENT}]}
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                return False
            raise FilesUnavailable("S3 refused to tag an attachment") from exc
        except BotoCoreError as exc:
            raise FilesUnavailable("S3 is unreachable") from exc
        return True

    def delete(self, keys: Sequence[str]) -> None:
        """Delete the objects (one request); :class:`StoreUnavailable` if S3 failed for any of them."""
        if not keys:
            return
        try:
            answer = self._client.delete_objects(
                Bucket=self._bucket, Delete={"Objects": [{"Key": k} for k in keys], "Quiet": True}
            )
        except (BotoCoreError, ClientError) as exc:
            raise FilesUnavailable("S3 did not delete the attachments") from exc
        if answer.get("Errors"):
            raise FilesUnavailable(f"S3 did not delete {len(answer['Errors'])} attachment(s)")
