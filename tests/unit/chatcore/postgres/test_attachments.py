"""Attachments in PostgreSQL: recorded before upload, attached once by the message that sends them."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest
from chatcore.errors import InvalidInput
from chatcore.postgres.store import ChatStore
from chatcore.rows import UserRow


def test_a_message_attaches_its_senders_files_once(store: ChatStore, user: Callable[..., UserRow]) -> None:
    """The message carries its files' id, name, size and type; the file then belongs to it."""
    alice = user("alice")
    room = store.create_group("general", private=False, created_by=alice.id).id
    file_id = str(uuid.uuid4())
    store.create_attachment(file_id, room, alice.id, name="plan.pdf", size=1234, content_type="application/pdf")
    assert store.attachments_created_since(alice.id, 3600) == 1

    message = store.save_message(room, alice.id, "see attached", None, attachment_ids=[file_id]).message

    assert message.attachments == [{"id": file_id, "name": "plan.pdf", "size": 1234, "type": "application/pdf"}]
    row = store.attachment(file_id)
    assert row is not None and row.message_id == message.id
    with pytest.raises(InvalidInput):
        store.save_message(room, alice.id, "again", None, attachment_ids=[file_id])


def test_another_users_or_rooms_file_stores_nothing(store: ChatStore, user: Callable[..., UserRow]) -> None:
    """A file of someone else, or of another room, makes the whole message fail: no row is left."""
    alice, bob = user("alice"), user("bob")
    room = store.create_group("general", private=False, created_by=alice.id).id
    other = store.create_group("other", private=False, created_by=alice.id).id
    store.add_member(room, bob.id)
    bobs, elsewhere = str(uuid.uuid4()), str(uuid.uuid4())
    store.create_attachment(bobs, room, bob.id, name="b.txt", size=1, content_type="text/plain")
    store.create_attachment(elsewhere, other, alice.id, name="e.txt", size=1, content_type="text/plain")
    for file_id in (bobs, elsewhere, str(uuid.uuid4())):
        with pytest.raises(InvalidInput):
            store.save_message(room, alice.id, "x", None, attachment_ids=[file_id])
    assert store.latest_messages(room, 10) == ([], False)


def test_deleting_the_message_removes_its_files_rows(store: ChatStore, user: Callable[..., UserRow]) -> None:
    """A deleted message hands back its files' ids (for S3) and no longer lists them."""
    alice = user("alice")
    room = store.create_group("general", private=False, created_by=alice.id).id
    file_id = str(uuid.uuid4())
    store.create_attachment(file_id, room, alice.id, name="a.png", size=9, content_type="image/png")
    message = store.save_message(room, alice.id, "pic", None, attachment_ids=[file_id]).message
    deleted = store.delete_message(room, message.id)
    assert deleted is not None and deleted[1] == [file_id] and deleted[0].attachments == []
    assert store.attachment(file_id) is None


def test_files_announced_a_day_ago_and_never_sent_are_forgotten(store: ChatStore, user: Callable[..., UserRow]) -> None:
    """Announcing a file drops the uploader's unsent files older than a day; sent ones and newer ones stay."""
    alice = user("alice")
    room = store.create_group("general", private=False, created_by=alice.id).id
    old, sent, recent = (str(uuid.uuid4()) for _ in range(3))
    for file_id in (old, sent, recent):
        store.create_attachment(file_id, room, alice.id, name="f", size=1, content_type="text/plain")
    store.save_message(room, alice.id, "with file", None, attachment_ids=[sent])
    store._db.execute(
        "UPDATE attachments SET created_at = now() - interval '25 hours' WHERE id = ANY(%s::uuid[])", ([old, sent],)
    )
    store.create_attachment(str(uuid.uuid4()), room, alice.id, name="new", size=1, content_type="text/plain")
    assert store.attachment(old) is None
    assert store.attachment(sent) is not None and store.attachment(recent) is not None
