"""The attachment bucket adapter against moto's S3."""

from __future__ import annotations

import base64
import json
from urllib.parse import parse_qs, urlsplit

from chatcore.aws.files import PENDING_TAGGING, FileBucket, content_disposition

from tests.conftest import BUCKET


def test_the_upload_policy_fixes_size_type_and_pending_tag(bucket: FileBucket) -> None:
    """The presigned POST's signed policy names the key, exactly ``size`` bytes, the type and the pending tag."""
    form = bucket.upload_form("rooms/1/abc", size=2048, content_type="image/png", expires_in=600)
    assert form.url.endswith(f"/{BUCKET}") or BUCKET in urlsplit(form.url).netloc
    assert form.fields["key"] == "rooms/1/abc" and form.fields["Content-Type"] == "image/png"
    assert form.fields["tagging"] == PENDING_TAGGING
    policy = json.loads(base64.b64decode(form.fields["policy"]))
    conditions = policy["conditions"]
    assert ["content-length-range", 2048, 2048] in conditions
    assert {"Content-Type": "image/png"} in conditions and {"tagging": PENDING_TAGGING} in conditions
    assert {"key": "rooms/1/abc"} in conditions and {"bucket": BUCKET} in conditions


def test_mark_sent_tags_an_uploaded_object_and_reports_a_missing_one(bucket: FileBucket) -> None:
    """An uploaded file is retagged ``state=sent``; a key never uploaded answers False."""
    client = bucket._client
    client.put_object(Bucket=BUCKET, Key="rooms/1/up", Body=b"x", Tagging="state=pending")
    assert bucket.mark_sent("rooms/1/up") is True
    assert client.get_object_tagging(Bucket=BUCKET, Key="rooms/1/up")["TagSet"] == [{"Key": "state", "Value": "sent"}]
    assert bucket.mark_sent("rooms/1/never") is False


def test_delete_removes_the_objects(bucket: FileBucket) -> None:
    """Deleting a message's files leaves none of them in the bucket."""
    client = bucket._client
    for key in ("rooms/2/a", "rooms/2/b", "rooms/2/keep"):
        client.put_object(Bucket=BUCKET, Key=key, Body=b"x")
    bucket.delete(["rooms/2/a", "rooms/2/b"])
    left = [o["Key"] for o in client.list_objects_v2(Bucket=BUCKET).get("Contents", [])]
    assert left == ["rooms/2/keep"]


def test_download_urls_expire_and_only_images_render_inline(bucket: FileBucket) -> None:
    """A GET URL lasts the given seconds; a non-image downloads as octet-stream with its name."""
    url = bucket.download_url("rooms/1/f", name="page.html", content_type="text/html", inline=False, expires_in=300)
    query = parse_qs(urlsplit(url).query)
    assert query["X-Amz-Expires"] == ["300"]
    assert query["response-content-type"] == ["application/octet-stream"]
    assert query["response-content-disposition"][0].startswith("attachment;")
    image = bucket.download_url("rooms/1/i", name="cat.png", content_type="image/png", inline=True, expires_in=300)
    image_query = parse_qs(urlsplit(image).query)
    assert image_query["response-content-type"] == ["image/png"]
    assert image_query["response-content-disposition"][0].startswith("inline;")


def test_content_disposition_keeps_any_name_safe() -> None:
    """Quotes and non-ASCII names become an ASCII fallback plus the UTF-8 name (RFC 6266)."""
    value = content_disposition('ré"sumé.pdf', inline=False)
    assert value == "attachment; filename=\"r__sum_.pdf\"; filename*=UTF-8''r%C3%A9%22sum%C3%A9.pdf"
