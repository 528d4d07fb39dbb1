"""``POST /rooms/{id}/attachments`` and ``GET /attachments/{id}`` through the REST handler, on moto's S3."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import pytest
from chatcore.aws.files import FileBucket
from chatcore.fields import MAX_ATTACHMENT_BYTES
from chatcore.tokens import Identity

from tests.conftest import BUCKET
from tests.unit.chatcore.http.rest_support import Reply, Rest, assert_error, assert_invalid


@pytest.fixture
def files(rest: Rest, bucket: FileBucket, monkeypatch: pytest.MonkeyPatch) -> Iterator[Rest]:
    monkeypatch.setenv("ATTACHMENTS_BUCKET", BUCKET)
    rest.module.services.cache_clear()
    yield rest


def _group(rest: Rest) -> tuple[Identity, Identity, Identity, int]:
    alice, bob, carol = rest.user("alice"), rest.user("bob"), rest.user("carol")
    group = rest.store.create_group("lobby", private=False, created_by=alice.user_id).id
    rest.store.add_member(group, bob.user_id)
    return alice, bob, carol, group


def _announce(rest: Rest, who: Identity, group: int, **body: object) -> Reply:
    payload = {"name": "cat.png", "size": 1234, "type": "image/png", **body}
    return rest.call("POST", f"/rooms/{group}/attachments", payload, token=rest.token(who))


def test_a_member_gets_a_presigned_post_for_exactly_that_file(files: Rest) -> None:
    """201 with the id and a POST whose signed policy fixes the key, the size and the type."""
    alice, _bob, _carol, group = _group(files)
    reply = _announce(files, alice, group)
    assert reply.status == 201
    body = reply.body
    uuid.UUID(body["id"])
    assert body["maxBytes"] == MAX_ATTACHMENT_BYTES and body["expiresAt"] > 0
    assert body["fields"]["key"] == f"rooms/{group}/{body['id']}"
    policy = json.loads(base64.b64decode(body["fields"]["policy"]))
    assert ["content-length-range", 1234, 1234] in policy["conditions"]
    assert {"Content-Type": "image/png"} in policy["conditions"]
    row = files.store.attachment(body["id"])
    assert row is not None and (row.name, row.size, row.content_type, row.message_id) == (
        "cat.png",
        1234,
        "image/png",
        None,
    )


def test_non_members_and_unknown_rooms_get_no_upload(files: Rest) -> None:
    """Carol (not in the group) is refused 403; an unknown room 404; nothing is recorded."""
    _alice, _bob, carol, group = _group(files)
    assert_error(_announce(files, carol, group), 403)
    assert_error(_announce(files, carol, group + 99), 404)
    assert files.store.attachments_created_since(carol.user_id, 3600) == 0


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"size": MAX_ATTACHMENT_BYTES + 1}, "size"),
        ({"size": 0}, "size"),
        ({"type": "not a type"}, "type"),
        ({"name": "\u202e/.."}, "name"),
    ],
    ids=["too-big", "empty", "type", "name"],
)
def test_bad_file_announcements_are_422(files: Rest, body: dict[str, object], field: str) -> None:
    """Over 10 MB, empty, a malformed media type or a name with nothing printable: 422 naming the field."""
    alice, _bob, _carol, group = _group(files)
    assert_invalid(_announce(files, alice, group, **body), field)


def test_file_names_are_cleaned_to_their_last_part(files: Rest) -> None:
    """A path or control characters in the name are dropped: only the last part is kept."""
    alice, _bob, _carol, group = _group(files)
    reply = _announce(files, alice, group, name="C:\\Users\\me\\..\\re\u0007port\u200b.pdf")
    row = files.store.attachment(reply.body["id"])
    assert row is not None and row.name == "report.pdf"


def _sent_file(files: Rest, alice: Identity, group: int) -> str:
    reply = _announce(files, alice, group)
    file_id: str = reply.body["id"]
    files.store.save_message(group, alice.user_id, "pic", None, attachment_ids=[file_id])
    return file_id


def test_members_download_a_sent_file_by_a_short_lived_url(files: Rest) -> None:
    """Bob (a member) gets a five-minute URL that previews an image inline under its name."""
    alice, bob, _carol, group = _group(files)
    file_id = _sent_file(files, alice, group)
    reply = files.call("GET", f"/attachments/{file_id}", token=files.token(bob))
    assert reply.status == 200
    assert (reply.body["name"], reply.body["size"], reply.body["type"], reply.body["inline"]) == (
        "cat.png",
        1234,
        "image/png",
        True,
    )
    query = parse_qs(urlsplit(reply.body["url"]).query)
    assert query["X-Amz-Expires"] == ["300"]
    assert query["response-content-disposition"][0].startswith("inline;")


def test_a_non_member_never_gets_a_download_url(files: Rest) -> None:
    """Carol is refused 403 for a public group's file too (files are for members); unsent or unknown: 404."""
    alice, _bob, carol, group = _group(files)
    file_id = _sent_file(files, alice, group)
    refused = files.call("GET", f"/attachments/{file_id}", token=files.token(carol))
    assert_error(refused, 403)
    assert "url" not in refused.body
    unsent = _announce(files, alice, group).body["id"]
    assert_error(files.call("GET", f"/attachments/{unsent}", token=files.token(alice)), 404)
    assert_error(files.call("GET", f"/attachments/{uuid.uuid4()}", token=files.token(alice)), 404)
    assert files.call("GET", "/attachments/not-a-uuid", token=files.token(alice)).status == 422


def test_uploads_are_capped_per_hour(files: Rest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Past the hourly quota of announced files the answer is 429 with Retry-After."""
    alice, _bob, _carol, group = _group(files)
    for _ in range(100):
        files.store.create_attachment(
            str(uuid.uuid4()), group, alice.user_id, name="f", size=1, content_type="text/plain"
        )
    reply = _announce(files, alice, group)
    assert_error(reply, 429)
    assert reply.headers["Retry-After"] == "3600"
