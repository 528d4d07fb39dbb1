"""The local stack's S3 front: presigned POST uploads and presigned GET downloads refused as S3 refuses them."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import boto3
import pytest
import urllib3
from aiohttp import web
from botocore.config import Config
from botocore.credentials import Credentials
from chat_local.s3front import S3Front
from chatcore.aws.files import PENDING_TAGGING, FileBucket

BUCKET = "front-test"
REGION = "us-east-1"
KEY = Credentials("AKIDFRONT", "front-secret")
"""The stack's credentials: the front verifies signatures with them."""


@dataclass
class Front:
    clock: list[datetime]
    """What the front takes for now: tests move it forward."""
    url: str
    s3: Any
    """moto's S3, where uploads land."""
    files: FileBucket
    """The adapter the functions use, signing URLs for the front."""


@pytest.fixture
def front(aws: None) -> Iterator[Front]:
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket=BUCKET)
    app = web.Application()
    clock = [datetime.now(UTC)]
    S3Front(s3, KEY, REGION, clock=lambda: clock[0]).add_routes(app)
    loop = asyncio.new_event_loop()
    runner = web.AppRunner(app)
    loop.run_until_complete(runner.setup())
    site = web.TCPSite(runner, "127.0.0.1", 0)
    loop.run_until_complete(site.start())
    port = runner.addresses[0][1]
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    endpoint = f"http://127.0.0.1:{port}/_s3"
    signer = boto3.client(
        "s3",
        region_name=REGION,
        endpoint_url=endpoint,
        aws_access_key_id=KEY.access_key,
        aws_secret_access_key=KEY.secret_key,
        config=Config(signature_version="s3v4"),
    )
    yield Front(clock, endpoint, s3, FileBucket(s3, BUCKET, signer=signer))
    asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(10)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)


def _upload(url: str, fields: dict[str, str], data: bytes, content_type: str = "image/png") -> urllib3.BaseHTTPResponse:
    form: dict[str, Any] = {**fields, "file": ("upload.bin", data, content_type)}  # the file last, as S3 wants
    body, form_type = urllib3.encode_multipart_formdata(form)
    return urllib3.request("POST", url, body=body, headers={"Content-Type": form_type}, retries=False)


def _code(response: urllib3.BaseHTTPResponse) -> str:
    text = response.data.decode()
    return text.split("<Code>", 1)[1].split("</Code>", 1)[0] if "<Code>" in text else text


def test_an_upload_that_meets_the_policy_is_stored_with_its_type_and_tag(front: Front) -> None:
    """Exactly the signed size and type: 204, and the object has that type and the pending tag."""
    form = front.files.upload_form("rooms/1/ok", size=5, content_type="image/png", expires_in=60)
    response = _upload(form.url, form.fields, b"12345")
    assert response.status == 204, response.data
    stored = front.s3.get_object(Bucket=BUCKET, Key="rooms/1/ok")
    assert stored["Body"].read() == b"12345" and stored["ContentType"] == "image/png"
    tags = front.s3.get_object_tagging(Bucket=BUCKET, Key="rooms/1/ok")["TagSet"]
    assert tags == [{"Key": "state", "Value": "pending"}]


def test_a_file_larger_than_signed_is_refused_by_the_policy(front: Front) -> None:
    """One byte more than the policy's range is EntityTooLarge (400) and nothing is stored."""
    form = front.files.upload_form("rooms/1/big", size=1024, content_type="image/png", expires_in=60)
    response = _upload(form.url, form.fields, b"x" * 1025)
    assert (response.status, _code(response)) == (400, "EntityTooLarge")
    smaller = _upload(form.url, form.fields, b"x" * 1023)
    assert (smaller.status, _code(smaller)) == (400, "EntityTooSmall")
    assert front.s3.list_objects_v2(Bucket=BUCKET).get("KeyCount") == 0


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"Content-Type": "text/html"}, "AccessDenied"),
        ({"key": "rooms/2/elsewhere"}, "AccessDenied"),
        ({"tagging": PENDING_TAGGING.replace("pending", "sent")}, "AccessDenied"),
        ({"x-amz-meta-extra": "1"}, "AccessDenied"),
        ({"x-amz-signature": "0" * 64}, "SignatureDoesNotMatch"),
    ],
    ids=["type", "key", "tagging", "extra-field", "signature"],
)
def test_a_form_changed_after_signing_is_refused(front: Front, change: dict[str, str], code: str) -> None:
    """Another type, key or tagging, an extra field or a forged signature: refused with S3's code."""
    form = front.files.upload_form("rooms/1/f", size=3, content_type="image/png", expires_in=60)
    response = _upload(form.url, {**form.fields, **change}, b"abc")
    assert (response.status, _code(response)) == (403, code)
    assert front.s3.list_objects_v2(Bucket=BUCKET).get("KeyCount") == 0


def test_an_expired_policy_is_refused(front: Front) -> None:
    """A policy whose expiration passed is AccessDenied "Policy expired"."""
    form = front.files.upload_form("rooms/1/late", size=3, content_type="image/png", expires_in=60)
    front.clock[0] += timedelta(seconds=61)
    response = _upload(form.url, form.fields, b"abc")
    assert response.status == 403 and b"Policy expired" in response.data
    assert front.s3.list_objects_v2(Bucket=BUCKET).get("KeyCount") == 0


def test_a_presigned_get_serves_the_object_with_the_signed_headers(front: Front) -> None:
    """The URL the adapter signs downloads the bytes with the disposition and type it names."""
    front.s3.put_object(Bucket=BUCKET, Key="rooms/1/doc", Body=b"%PDF", ContentType="application/pdf")
    url = front.files.download_url(
        "rooms/1/doc", name="plan.pdf", content_type="application/pdf", inline=False, expires_in=60
    )
    response = urllib3.request("GET", url, retries=False)
    assert response.status == 200 and response.data == b"%PDF"
    assert response.headers["Content-Type"] == "application/octet-stream"
    assert response.headers["Content-Disposition"].startswith('attachment; filename="plan.pdf"')


def test_a_tampered_or_unsigned_download_is_refused(front: Front) -> None:
    """Another key under the same signature, or no signature at all, is refused; nothing is served."""
    front.s3.put_object(Bucket=BUCKET, Key="rooms/1/a", Body=b"a")
    front.s3.put_object(Bucket=BUCKET, Key="rooms/1/b", Body=b"b")
    url = front.files.download_url("rooms/1/a", name="a", content_type="text/plain", inline=False, expires_in=60)
    parts = urlsplit(url)
    other = urlunsplit(parts._replace(path=parts.path.replace("rooms/1/a", "rooms/1/b")))
    tampered = urllib3.request("GET", other, retries=False)
    assert (tampered.status, _code(tampered)) == (403, "SignatureDoesNotMatch")
    bare = urllib3.request("GET", urlunsplit(parts._replace(query="")), retries=False)
    assert (bare.status, _code(bare)) == (403, "AccessDenied")


def test_an_expired_download_url_is_refused(front: Front) -> None:
    """Past X-Amz-Expires the URL answers AccessDenied "Request has expired"."""
    front.s3.put_object(Bucket=BUCKET, Key="rooms/1/old", Body=b"old")
    url = front.files.download_url("rooms/1/old", name="old", content_type="text/plain", inline=False, expires_in=60)
    assert urllib3.request("GET", url, retries=False).status == 200
    front.clock[0] += timedelta(seconds=61)
    response = urllib3.request("GET", url, retries=False)
    assert response.status == 403 and b"Request has expired" in response.data
