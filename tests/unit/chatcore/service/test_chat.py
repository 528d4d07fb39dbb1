"""The chat service over real PostgreSQL and moto's DynamoDB and Management API."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import pytest
from botocore.exceptions import EndpointConnectionError
from chatcore.aws.broadcaster import Broadcaster
from chatcore.aws.files import FileBucket
from chatcore.aws.registry import ConnectionRegistry
from chatcore.fields import MAX_POST_BYTES, MAX_TEXT_LENGTH
from chatcore.passwords import hash_password
from chatcore.postgres.database import Database
from chatcore.postgres.store import ChatStore
from chatcore.records import FanoutJob
from chatcore.rules import RATE_WINDOW_SECONDS, RateLimits
from chatcore.service.chat import ChatService
from chatcore.service.delivery import FanoutWorker, RoomDelivery
from chatcore.service.fanout import Fanout
from chatcore.service.gate import ConnectionGate
from chatcore.tokens import Identity, TokenService

from tests.conftest import BUCKET, TABLE, ManagementFake, delivered
from tests.helpers.events import route_of
from tests.helpers.records import opened_a_minute_ago, stored_connection


def _mid_window() -> float:
    """A clock stopped in the middle of a rate window, so a test's frames never straddle two windows."""
    return RATE_WINDOW_SECONDS * 180_000_000.0 + RATE_WINDOW_SECONDS / 2


class Room:
    """A group with users connected to it, and the frames each connection received."""

    def __init__(self, chat: ChatService, store: ChatStore, tokens: TokenService, registry: ConnectionRegistry) -> None:
        self.chat, self.store, self.tokens = chat, store, tokens
        self.gate = ConnectionGate(store, registry, tokens)
        self.seen: dict[str, int] = {}

    def user(self, name: str) -> Identity:
        row = self.store.create_user(name, hash_password("pw-for-tests"))
        return Identity(row.id, row.username)

    def connect(self, who: Identity, connection_id: str) -> str:
        self.gate.connect(connection_id, self.tokens.issue(who))
        return connection_id

    def send(self, connection_id: str, frame: dict[str, Any] | str) -> None:
        body = frame if isinstance(frame, str) else json.dumps(frame)
        self.chat.handle_frame(connection_id, route_of(body), body)

    def new(self, connection_id: str) -> list[dict[str, Any]]:
        """Frames delivered to ``connection_id`` since the last call."""
        frames = delivered(connection_id)
        start = self.seen.get(connection_id, 0)
        self.seen[connection_id] = len(frames)
        return frames[start:]

    def one(self, connection_id: str, kind: str) -> dict[str, Any]:
        frames = [f for f in self.new(connection_id) if f["type"] == kind]
        assert len(frames) == 1, frames
        return frames[0]


@pytest.fixture
def room(chat: ChatService, store: ChatStore, tokens: TokenService, registry: ConnectionRegistry) -> Room:
    return Room(chat, store, tokens, registry)


def test_join_returns_room_members_and_history_from_postgres(room: Room, store: ChatStore) -> None:
    """``joined`` carries the room, its members and the stored history, oldest first."""
    alice, bob = room.user("alice"), room.user("bob")
    group = store.create_group("general", private=False, created_by=alice.user_id)
    store.add_member(group.id, bob.user_id)
    store.save_message(group.id, bob.user_id, "first", None)
    store.save_message(group.id, alice.user_id, "second", None)
    a = room.connect(alice, "a1")

    room.send(a, {"type": "join", "roomId": group.id})

    joined = room.one(a, "joined")
    assert joined["room"] == {"id": group.id, "name": "general", "private": False, "kind": "group"}
    assert [(m["username"], m["online"]) for m in joined["members"]] == [("alice", True), ("bob", False)]
    assert [(m["sender"], m["text"]) for m in joined["history"]] == [("bob", "first"), ("alice", "second")]
    assert joined["hasMore"] is False


def test_others_get_member_joined_once_per_user(room: Room, store: ChatStore) -> None:
    """The others hear ``member_joined`` when a user arrives, not again for the user's second tab."""
    alice, bob = room.user("alice"), room.user("bob")
    group = store.create_group("general", private=False, created_by=alice.user_id)
    a = room.connect(alice, "a1")
    room.send(a, {"type": "join", "roomId": group.id})
    room.new(a)

    b1 = room.connect(bob, "b1")
    room.send(b1, {"type": "join", "roomId": group.id})
    assert room.one(a, "member_joined") == {
        "type": "member_joined",
        "roomId": group.id,
        "user": "bob",
    }  # and not Bob's connection id: other users never learn one

    b2 = room.connect(bob, "b2")
    room.send(b2, {"type": "join", "roomId": group.id})
    assert room.new(a) == []
    members = room.one(b2, "joined")["members"]
    assert [m["username"] for m in members] == ["alice", "bob"]  # the second tab adds no duplicate


def test_message_is_stored_then_delivered_to_everyone_including_sender(room: Room, store: ChatStore) -> None:
    """A message reaches every connection in the room, the sender's too, with id, sender, text and ts."""
    alice, bob = room.user("alice"), room.user("bob")
    group = store.create_group("general", private=False, created_by=alice.user_id)
    a, b = room.connect(alice, "a1"), room.connect(bob, "b1")
    for cid in (a, b):
        room.send(cid, {"type": "join", "roomId": group.id})
    room.new(a), room.new(b)
    before = int(time.time() * 1000)

    room.send(a, {"type": "message", "roomId": group.id, "text": "Hello Bob!", "clientMsgId": "m-1"})

    stored, _ = store.latest_messages(group.id, 10)
    assert [(m.username, m.content) for m in stored] == [("alice", "Hello Bob!")]
    for cid in (a, b):
        message = room.one(cid, "message")["message"]
        assert message["id"] == stored[0].id
        assert (message["sender"], message["senderId"], message["text"]) == ("alice", alice.user_id, "Hello Bob!")
        assert message["clientMsgId"] == "m-1"
        assert before - 5000 <= message["ts"] <= int(time.time() * 1000) + 5000


def test_identity_comes_from_the_token_not_the_frame(room: Room, store: ChatStore) -> None:
    """``sender``/``username``/``userId`` in a frame are ignored: the message is the token's user's."""
    alice, bob = room.user("alice"), room.user("bob")
    group = store.create_group("general", private=False, created_by=alice.user_id)
    store.add_member(group.id, bob.user_id)
    b = room.connect(bob, "b1")

    room.send(
        b,
        {
            "type": "message",
            "roomId": group.id,
            "text": "hi",
            "sender": "alice",
            "username": "alice",
            "userId": alice.user_id,
        },
    )

    message = room.one(b, "message")["message"]
    assert (message["sender"], message["senderId"]) == ("bob", bob.user_id)
    stored, _ = store.latest_messages(group.id, 10)
    assert stored[0].user_id == bob.user_id


def test_retry_with_same_client_msg_id_is_stored_and_broadcast_once(room: Room, store: ChatStore) -> None:
    """Resending a ``clientMsgId`` stores nothing new; others get it once; the sender gets an ack."""
    alice, bob = room.user("alice"), room.user("bob")
    group = store.create_group("general", private=False, created_by=alice.user_id)
    a, b = room.connect(alice, "a1"), room.connect(bob, "b1")
    for cid in (a, b):
        room.send(cid, {"type": "join", "roomId": group.id})
    room.new(a), room.new(b)
    frame = {"type": "message", "roomId": group.id, "text": "once", "clientMsgId": "retry-1"}

    room.send(a, frame)
    room.send(a, frame)

    stored, _ = store.latest_messages(group.id, 10)
    assert len(stored) == 1
    assert len([f for f in room.new(b) if f["type"] == "message"]) == 1
    acks = [f for f in room.new(a) if f["type"] == "message"]
    assert [f["message"]["id"] for f in acks] == [stored[0].id, stored[0].id]


def test_database_failure_gives_save_failed_and_broadcasts_nothing(
    chat: ChatService,
    registry: ConnectionRegistry,
    management: ManagementFake,
    tokens: TokenService,
    database_url: str,
) -> None:
    """With PostgreSQL unreachable, the sender gets ``save_failed`` and nobody gets a message."""
    conninfo = [database_url]
    db = Database(lambda: conninfo[0], connect_timeout=2)
    store = ChatStore(db)
    service = ChatService(store, registry, Fanout(registry, Broadcaster(management)))
    room = Room(service, store, tokens, registry)
    alice, bob = room.user("alice"), room.user("bob")
    group = store.create_group("general", private=False, created_by=alice.user_id)
    a, b = room.connect(alice, "a1"), room.connect(bob, "b1")
    for cid in (a, b):
        room.send(cid, {"type": "join", "roomId": group.id})
    room.new(a), room.new(b)

    conninfo[0] = "postgresql://postgres@127.0.0.1:1/unreachable"  # the database goes away
    db.close()
    room.send(a, {"type": "message", "roomId": group.id, "text": "lost?", "clientMsgId": "c-9"})

    assert room.new(a) == [
        {
            "type": "error",
            "code": "save_failed",
            "message": "Failed to save message",
            "requestType": "message",
            "roomId": group.id,
            "clientMsgId": "c-9",
        }
    ]
    assert room.new(b) == []
    conninfo[0] = database_url  # back again: the same frame now goes through, once
    room.send(a, {"type": "message", "roomId": group.id, "text": "lost?", "clientMsgId": "c-9"})
    assert room.one(b, "message")["message"]["text"] == "lost?"


def test_room_lookup_failure_after_saving_acknowledges_the_sender_instead_of_save_failed(
    room: Room, store: ChatStore, registry: ConnectionRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DynamoDB failing after the message is stored: the sender gets its message (saved), not save_failed."""
    alice, bob = room.user("alice"), room.user("bob")
    group = store.create_group("general", private=False, created_by=alice.user_id)
    a, b = room.connect(alice, "a1"), room.connect(bob, "b1")
    for cid in (a, b):
        room.send(cid, {"type": "join", "roomId": group.id})
    room.new(a), room.new(b)

    def unreachable(**_request: object) -> object:  # moto cannot be made to time out on one call
        raise EndpointConnectionError(endpoint_url="http://dynamodb.invalid")

    monkeypatch.setattr(registry._client, "query", unreachable)  # the room lookup's DynamoDB call
    room.send(a, {"type": "message", "roomId": group.id, "text": "kept", "clientMsgId": "c-1"})

    stored, _ = store.latest_messages(group.id, 10)
    assert [m.content for m in stored] == ["kept"]
    ack = room.one(a, "message")["message"]
    assert (ack["id"], ack["clientMsgId"]) == (stored[0].id, "c-1")
    assert room.new(a) == []  # no error frame besides
    monkeypatch.undo()
    room.send(b, {"type": "join", "roomId": group.id, "since": 0})  # the room catches up
    assert [m["text"] for m in room.one(b, "joined")["history"]] == ["kept"]


def test_gone_recipient_is_removed_and_the_others_still_receive(
    room: Room, store: ChatStore, management: ManagementFake, registry: ConnectionRegistry
) -> None:
    """A 410 from one recipient removes it, the rest get the message, and bob's contacts hear he is offline."""
    alice, bob, carol = room.user("alice"), room.user("bob"), room.user("carol")
    group = store.create_group("general", private=False, created_by=alice.user_id)
    for member in (bob, carol):  # members when they connect: each other's presence contacts
        store.add_member(group.id, member.user_id)
    conns = [room.connect(alice, "a1"), room.connect(bob, "b1"), room.connect(carol, "c1")]
    for cid in conns:
        room.send(cid, {"type": "join", "roomId": group.id})
    for cid in conns:
        room.new(cid)
    management.gone.add("b1")
    opened_a_minute_ago(registry, "b1")

    room.send("a1", {"type": "message", "roomId": group.id, "text": "still there?"})

    for cid in ("a1", "c1"):
        frames = room.new(cid)
        assert [f["message"]["text"] for f in frames if f["type"] == "message"] == ["still there?"]
        assert {"type": "presence", "user": "bob", "online": False} in frames
    assert stored_connection(registry, "b1") is None
    assert "b1" not in [c.connection_id for c in registry.room_connections(group.id)]


def test_leave_stops_viewing_but_the_rooms_messages_still_arrive(room: Room, store: ChatStore) -> None:
    """After ``leave`` a tab gets no more typing, yet still every message: it hears all of its user's rooms."""
    alice, bob = room.user("alice"), room.user("bob")
    group = store.create_group("general", private=False, created_by=alice.user_id)
    conns = [room.connect(alice, "a1"), room.connect(bob, "b1"), room.connect(bob, "b2")]
    for cid in conns:
        room.send(cid, {"type": "join", "roomId": group.id})
    for cid in conns:
        room.new(cid)

    room.send("b1", {"type": "leave", "roomId": group.id})
    room.send("a1", {"type": "typing", "roomId": group.id})
    assert [f["type"] for f in room.new("b2")] == ["typing"]  # the tab still looking sees it
    assert room.new("b1") == []
    room.send("a1", {"type": "message", "roomId": group.id, "text": "still for you"})
    assert [f["message"]["text"] for f in room.new("b1") if f["type"] == "message"] == ["still for you"]


def test_a_connection_hears_every_room_of_its_user_without_join(room: Room, store: ChatStore) -> None:
    """Messages of all the user's rooms reach a connection that joined none of them (the sidebar's unread)."""
    alice, bob = room.user("alice"), room.user("bob")
    design = store.create_group("design", private=True, created_by=alice.user_id)
    store.add_member(design.id, bob.user_id)
    direct = store.get_or_create_direct(alice.user_id, bob.user_id)
    other = store.create_group("elsewhere", private=False, created_by=alice.user_id)  # bob is not a member
    a, b = room.connect(alice, "a1"), room.connect(bob, "b1")
    for target, text in ((design.id, "in design"), (direct.id, "just you"), (other.id, "not for bob")):
        room.send(a, {"type": "message", "roomId": target, "text": text})
    got = [(f["roomId"], f["message"]["text"]) for f in room.new(b) if f["type"] == "message"]
    assert got == [(design.id, "in design"), (direct.id, "just you")]


def test_joining_a_public_group_brings_it_to_every_tab(room: Room, store: ChatStore) -> None:
    """The first join of a public group makes a member: both of bob's tabs get room_added and its messages."""
    alice, bob = room.user("alice"), room.user("bob")
    group = store.create_group("open", private=False, created_by=alice.user_id)
    a, b1, b2 = room.connect(alice, "a1"), room.connect(bob, "b1"), room.connect(bob, "b2")
    room.send(b1, {"type": "join", "roomId": group.id})
    assert [f["roomId"] for f in room.new(b2) if f["type"] == "room_added"] == [group.id]
    assert {"type": "member_joined", "roomId": group.id, "user": "bob"} in room.new(a)
    room.send(a, {"type": "message", "roomId": group.id, "text": "welcome"})
    assert [f["message"]["text"] for f in room.new(b2) if f["type"] == "message"] == ["welcome"]


def test_a_removed_member_cannot_walk_back_in_with_join(room: Room, store: ChatStore) -> None:
    """Once the owner removed bob from a public group, bob's join is forbidden (until the owner adds him)."""
    alice, bob = room.user("alice"), room.user("bob")
    group = store.create_group("open", private=False, created_by=alice.user_id)
    store.add_member(group.id, bob.user_id)
    store.remove_member(group.id, bob.user_id)
    store.ban(group.id, bob.user_id, by=alice.user_id)
    b = room.connect(bob, "b1")
    room.send(b, {"type": "join", "roomId": group.id})
    assert room.one(b, "error")["code"] == "forbidden"
    assert store.room_and_role(group.id, bob.user_id)[1] is None


def test_list_returns_members_with_presence(room: Room, store: ChatStore) -> None:
    """``list`` names every member once, online when connected to the room."""
    alice, bob, carol = room.user("alice"), room.user("bob"), room.user("carol")
    group = store.create_group("general", private=False, created_by=alice.user_id)
    store.add_member(group.id, carol.user_id)
    for who, cid in ((alice, "a1"), (bob, "b1"), (bob, "b2")):
        room.connect(who, cid)
        room.send(cid, {"type": "join", "roomId": group.id})

    room.send("a1", {"type": "list", "roomId": group.id})

    members = room.one("a1", "list")["members"]
    assert [(m["username"], m["online"]) for m in members] == [("alice", True), ("bob", True), ("carol", False)]


def test_private_room_refuses_non_members(room: Room, store: ChatStore) -> None:
    """A non-member gets ``forbidden`` for join, list, history and message in a private group."""
    alice, mallory = room.user("alice"), room.user("mallory")
    group = store.create_group("secret", private=True, created_by=alice.user_id)
    store.save_message(group.id, alice.user_id, "classified", None)
    m = room.connect(mallory, "m1")

    for frame in ({"type": "join"}, {"type": "list"}, {"type": "history"}, {"type": "message", "text": "hi"}):
        room.send(m, {**frame, "roomId": group.id})
        error = room.one(m, "error")
        assert (error["code"], error["requestType"]) == ("forbidden", frame["type"])
    assert store.room_and_role(group.id, mallory.user_id)[1] is None
    assert [r.content for r in store.latest_messages(group.id, 10)[0]] == ["classified"]


def test_joining_a_public_group_makes_the_caller_a_member(room: Room, store: ChatStore) -> None:
    """``join`` on a public group adds the caller as a member, who may then post."""
    alice, bob = room.user("alice"), room.user("bob")
    group = store.create_group("open", private=False, created_by=alice.user_id)
    b = room.connect(bob, "b1")

    room.send(b, {"type": "message", "roomId": group.id, "text": "too early"})
    assert room.one(b, "error")["code"] == "forbidden"
    room.send(b, {"type": "join", "roomId": group.id})
    assert store.room_and_role(group.id, bob.user_id)[1] == "member"
    room.send(b, {"type": "message", "roomId": group.id, "text": "now"})
    assert room.one(b, "message")["message"]["text"] == "now"


@pytest.mark.parametrize(
    ("raw", "code", "message"),
    [
        ("not valid json", "invalid_message", "invalid_message"),
        ("[1, 2]", "invalid_message", "invalid_message"),
        ('{"roomId": 1}', "invalid_message", "invalid_message"),
        ('{"type": "unknown_command"}', "unknown_type", "unknown_type"),
        ('{"type": "join", "roomId": "abc"}', "invalid_message", "invalid_message"),
        ('{"type": "join", "roomId": 999999}', "room_not_found", "Room not found"),
        ('{"type": "message", "roomId": 1, "text": ""}', "invalid_message", "invalid_message"),
        ('{"type": "history", "roomId": 1, "limit": 5000}', "invalid_message", "invalid_message"),
    ],
)
def test_bad_frames_get_a_specific_error(room: Room, raw: str, code: str, message: str) -> None:
    """Each malformed or unroutable frame gets exactly one ``error`` frame with its stable code."""
    a = room.connect(room.user("alice"), "a1")
    room.send(a, raw)
    frames = room.new(a)
    assert len(frames) == 1
    assert (frames[0]["type"], frames[0]["code"], frames[0]["message"]) == ("error", code, message)


def test_overlong_text_gets_message_too_long_and_is_not_stored(room: Room, store: ChatStore) -> None:
    """Text over the limit is refused with ``message_too_long`` and never stored."""
    alice = room.user("alice")
    group = store.create_group("general", private=False, created_by=alice.user_id)
    a = room.connect(alice, "a1")
    room.send(a, {"type": "message", "roomId": group.id, "text": "x" * 4001, "clientMsgId": "long"})
    error = room.one(a, "error")
    assert (error["code"], error["clientMsgId"]) == ("message_too_long", "long")
    assert store.latest_messages(group.id, 10)[0] == []


def test_history_pages_backwards_and_join_since_catches_up(room: Room, store: ChatStore) -> None:
    """``history`` with ``before`` pages older messages; ``join`` with ``since`` returns only newer ones."""
    alice = room.user("alice")
    group = store.create_group("general", private=False, created_by=alice.user_id)
    ids = [store.save_message(group.id, alice.user_id, f"m{i}", None).message.id for i in range(7)]
    a = room.connect(alice, "a1")

    room.send(a, {"type": "history", "roomId": group.id, "limit": 3})
    page = room.one(a, "history")
    assert [m["text"] for m in page["messages"]] == ["m4", "m5", "m6"] and page["hasMore"] is True
    room.send(a, {"type": "history", "roomId": group.id, "before": ids[4], "limit": 3})
    page = room.one(a, "history")
    assert [m["text"] for m in page["messages"]] == ["m1", "m2", "m3"] and page["hasMore"] is True
    room.send(a, {"type": "join", "roomId": group.id, "since": ids[4]})
    assert [m["text"] for m in room.one(a, "joined")["history"]] == ["m5", "m6"]


def test_ping_answers_pong_and_refreshes_last_seen(room: Room, registry: ConnectionRegistry) -> None:
    """``ping`` gets ``pong`` and moves the connection's last-seen time forward."""
    a = room.connect(room.user("alice"), "a1")
    registry._client.update_item(  # as if the connection had been quiet for a minute
        TableName=registry._table,
        Key={"pk": {"S": a}, "sk": {"S": "#conn"}},
        UpdateExpression="SET last_seen = last_seen - :minute",
        ExpressionAttributeValues={":minute": {"N": "60000"}},
    )
    first = stored_connection(registry, a)
    assert first is not None
    room.send(a, {"type": "ping"})
    assert room.one(a, "pong")["ts"] >= first.last_seen + 60000
    second = stored_connection(registry, a)
    assert second is not None and second.last_seen >= first.last_seen + 60000


def test_frames_from_an_unregistered_connection_are_refused(room: Room) -> None:
    """A connection with no record (pruned, expired) gets ``not_connected`` and nothing happens."""
    room.send("ghost", {"type": "join", "roomId": 1})
    assert room.one("ghost", "error")["code"] == "not_connected"


def test_typing_reaches_the_others_and_read_is_stored_and_broadcast(room: Room, store: ChatStore) -> None:
    """``typing`` goes to the others only; ``read`` stores the marker and tells the room."""
    alice, bob = room.user("alice"), room.user("bob")
    group = store.create_group("general", private=False, created_by=alice.user_id)
    a, b = room.connect(alice, "a1"), room.connect(bob, "b1")
    for cid in (a, b):
        room.send(cid, {"type": "join", "roomId": group.id})
    message_id = store.save_message(group.id, alice.user_id, "read me", None).message.id
    room.new(a), room.new(b)

    room.send(a, {"type": "typing", "roomId": group.id})
    assert room.new(a) == []
    assert room.one(b, "typing") == {"type": "typing", "roomId": group.id, "user": "alice"}

    room.send(b, {"type": "read", "roomId": group.id, "messageId": message_id})
    assert room.one(a, "read") == {"type": "read", "roomId": group.id, "user": "bob", "messageId": message_id}
    assert {m.username: m.last_read_message_id for m in store.list_members(group.id)}["bob"] == message_id


def test_messages_over_the_rate_limit_get_rate_limited_and_are_not_stored(
    store: ChatStore, dynamodb: Any, management: ManagementFake, tokens: TokenService
) -> None:
    """Past the per-connection limit a message gets ``rate_limited`` and is not stored; typing is dropped."""
    registry = ConnectionRegistry(dynamodb, TABLE, clock=_mid_window)
    fanout = Fanout(registry, Broadcaster(management))
    service = ChatService(store, registry, fanout, limits=RateLimits(frames=100, messages=3, typing=1))
    room = Room(service, store, tokens, registry)
    alice, bob = room.user("alice"), room.user("bob")
    group = store.create_group("general", private=False, created_by=alice.user_id)
    a, b = room.connect(alice, "a1"), room.connect(bob, "b1")
    for cid in (a, b):
        room.send(cid, {"type": "join", "roomId": group.id})
    room.new(a), room.new(b)

    for n in range(4):
        room.send(a, {"type": "message", "roomId": group.id, "text": f"m{n}", "clientMsgId": f"id-{n}"})
    room.send(a, {"type": "typing", "roomId": group.id})
    room.send(a, {"type": "typing", "roomId": group.id})

    frames = room.new(a)
    assert [f["message"]["text"] for f in frames if f["type"] == "message"] == ["m0", "m1", "m2"]
    errors = [f for f in frames if f["type"] == "error"]
    assert [(e["code"], e["clientMsgId"]) for e in errors] == [("rate_limited", "id-3")]
    assert [m.content for m in store.latest_messages(group.id, 10)[0]] == ["m0", "m1", "m2"]
    assert len([f for f in room.new(b) if f["type"] == "typing"]) == 1
    # Another connection has its own budget.
    room.send(b, {"type": "message", "roomId": group.id, "text": "bob's turn"})
    assert room.one(b, "message")["message"]["text"] == "bob's turn"


def test_a_flood_of_bad_frames_is_rate_limited_like_any_other(
    store: ChatStore, dynamodb: Any, management: ManagementFake, tokens: TokenService
) -> None:
    """Every frame counts before it is parsed: past the limit unknown and malformed frames get rate_limited too."""
    registry = ConnectionRegistry(dynamodb, TABLE, clock=_mid_window)
    service = ChatService(store, registry, Fanout(registry, Broadcaster(management)), limits=RateLimits(frames=10))
    room = Room(service, store, tokens, registry)
    a = room.connect(room.user("alice"), "a1")
    for n in range(15):
        room.send(a, {"type": "bogus"} if n % 2 else "not json at all")
    codes = [f["code"] for f in room.new(a)]
    assert codes[:10] == ["unknown_type" if n % 2 else "invalid_message" for n in range(10)]
    assert codes[10:] == ["rate_limited"] * 5


_LARGEST_TEXTS = {
    "emoji": "\U0001f600" * MAX_TEXT_LENGTH,  # 4 bytes each in UTF-8: 16 KB of JSON
    "control": "\u0001" * MAX_TEXT_LENGTH,  # escaped as \u0001 in JSON: 6 bytes each, 24 KB
}


@pytest.mark.parametrize("kind", sorted(_LARGEST_TEXTS))
def test_a_room_full_of_the_largest_messages_still_opens_and_pages_back(
    room: Room, store: ChatStore, management: ManagementFake, kind: str
) -> None:
    """joined and history carry as many of the newest worst-case messages as fit in one frame, never more."""
    alice, bob = room.user("alice"), room.user("bob")
    group = store.create_group("heavy", private=False, created_by=alice.user_id)
    store.add_member(group.id, bob.user_id)
    ids = [store.save_message(group.id, alice.user_id, _LARGEST_TEXTS[kind], f"c-{n}").message.id for n in range(30)]
    b = room.connect(bob, "b1")

    room.send(b, {"type": "join", "roomId": group.id})
    joined = room.one(b, "joined")
    assert joined["hasMore"] is True
    assert [m["id"] for m in joined["history"]] == ids[-len(joined["history"]) :]  # the newest, in order
    assert 1 <= len(joined["history"]) < 30
    seen = [m["id"] for m in joined["history"]]
    while True:  # page back as a client does, with before = the oldest id it has
        room.send(b, {"type": "history", "roomId": group.id, "before": seen[0], "limit": 200})
        page = room.one(b, "history")
        assert page["messages"], page
        seen = [m["id"] for m in page["messages"]] + seen
        if not page["hasMore"]:
            break
    assert seen == ids  # every message, once, in order
    assert management.largest_post <= MAX_POST_BYTES


def test_a_large_room_sends_its_members_a_page_at_a_time(
    room: Room, store: ChatStore, management: ManagementFake
) -> None:
    """joined carries the first page of members; list with after= gives the rest, each page one frame."""
    owner = room.user("owner")
    group = store.create_group("crowd", private=False, created_by=owner.user_id)
    for n in range(250):
        store.add_member(group.id, store.create_user(f"member{n:03}", "x", nickname="\u00e9" * 40).id)
    a = room.connect(owner, "o1")
    room.send(a, {"type": "join", "roomId": group.id})
    joined = room.one(a, "joined")
    assert joined["membersHasMore"] is True
    names = [m["username"] for m in joined["members"]]
    while True:
        room.send(a, {"type": "list", "roomId": group.id, "after": names[-1]})
        page = room.one(a, "list")
        names += [m["username"] for m in page["members"]]
        if not page["hasMore"]:
            break
    assert names == sorted(["owner"] + [f"member{n:03}" for n in range(250)])
    assert management.largest_post <= MAX_POST_BYTES


def test_an_answer_that_cannot_fit_becomes_a_frame_too_large_error(
    room: Room, store: ChatStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A reply that would not fit in one frame is never dropped silently: the sender gets frame_too_large."""
    alice = room.user("alice")
    group = store.create_group("g" * 80, private=False, created_by=alice.user_id)
    a = room.connect(alice, "a1")
    monkeypatch.setattr("chatcore.service.chat.MAX_POST_BYTES", 120)  # smaller than any joined frame
    room.send(a, {"type": "join", "roomId": group.id})
    error = room.one(a, "error")
    assert (error["code"], error["requestType"], error["roomId"]) == ("frame_too_large", "join", group.id)
    assert [f for f in room.new(a) if f["type"] == "joined"] == []


def test_joining_a_small_room_makes_its_members_presence_contacts(
    store: ChatStore, registry: ConnectionRegistry, management: ManagementFake, tokens: TokenService
) -> None:
    """A membership made after connecting still counts: bob joins, then his last tab closing tells alice."""
    fanout = Fanout(registry, Broadcaster(management))
    room = Room(ChatService(store, registry, fanout), store, tokens, registry)
    alice, bob = room.user("alice"), room.user("bob")
    group = store.create_group("open", private=False, created_by=alice.user_id)
    a, b = room.connect(alice, "a1"), room.connect(bob, "b1")  # not yet contacts of each other
    room.send(b, {"type": "join", "roomId": group.id})
    room.new(a)
    fanout.forget_connections([b])  # bob's only tab closes
    assert [f for f in room.new(a) if f["type"] == "presence"] == [{"type": "presence", "user": "bob", "online": False}]
    fanout.forget_connections([a])
    assert delivered(b)[-1]["type"] != "presence"  # bob is gone; nobody posts to him


# ---------------------------------------------------------------- edit, delete, react, reply, mention, files


def _chat_room(room: Room, store: ChatStore) -> tuple[Identity, Identity, int, str, str]:
    """Alice (the owner) and Bob in a public group, each connected and looking at it."""
    alice, bob = room.user("alice"), room.user("bob")
    group = store.create_group("general", private=False, created_by=alice.user_id)
    store.add_member(group.id, bob.user_id)
    a, b = room.connect(alice, "a1"), room.connect(bob, "b1")
    for cid in (a, b):
        room.send(cid, {"type": "join", "roomId": group.id})
        room.new(cid)
    return alice, bob, group.id, a, b


def _post(room: Room, cid: str, group: int, text: str, **extra: Any) -> dict[str, Any]:
    room.send(cid, {"type": "message", "roomId": group, "text": text, **extra})
    message: dict[str, Any] = room.one(cid, "message")["message"]
    return message


def test_the_author_edits_and_everyone_gets_message_edited(room: Room, store: ChatStore) -> None:
    """``edit`` by the author reaches every connection with the new text, an edited time and a newer rev."""
    _alice, _bob, group, a, b = _chat_room(room, store)
    original = _post(room, a, group, "helo")
    room.new(b)

    room.send(a, {"type": "edit", "roomId": group, "messageId": original["id"], "text": "hello"})

    for cid in (a, b):
        edited = room.one(cid, "message_edited")
        assert edited["message"]["id"] == original["id"] and edited["message"]["text"] == "hello"
        assert edited["message"]["editedAt"] >= original["ts"] and edited["message"]["rev"] > original["rev"]


@pytest.mark.parametrize("kind", ["edit", "delete"])
def test_only_the_author_edits_and_a_member_cannot_delete_others_messages(
    room: Room, store: ChatStore, kind: str
) -> None:
    """Bob may neither edit nor delete Alice's message: ``forbidden``, and nothing changes."""
    _alice, _bob, group, a, b = _chat_room(room, store)
    original = _post(room, a, group, "mine")
    room.new(b)
    room.send(
        b, {"type": kind, "roomId": group, "messageId": original["id"], **({"text": "x"} if kind == "edit" else {})}
    )
    error = room.one(b, "error")
    assert (error["code"], error["requestType"]) == ("forbidden", kind)
    stored = store.message(group, original["id"])
    assert stored is not None and stored.content == "mine" and stored.deleted_at is None


def test_the_groups_owner_deletes_any_message_and_the_room_gets_a_tombstone(room: Room, store: ChatStore) -> None:
    """The owner (moderation) deletes Bob's message; both get ``message_deleted`` with a textless tombstone."""
    _alice, _bob, group, a, b = _chat_room(room, store)
    spam = _post(room, b, group, "buy now")
    room.new(a)
    room.send(a, {"type": "delete", "roomId": group, "messageId": spam["id"]})
    for cid in (a, b):
        deleted = room.one(cid, "message_deleted")
        assert deleted["messageId"] == spam["id"]
        assert deleted["message"]["deleted"] is True and deleted["message"]["text"] == ""


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ({"type": "edit", "messageId": 999_999, "text": "x"}, "message_not_found"),
        ({"type": "delete", "messageId": 999_999}, "message_not_found"),
        ({"type": "react", "messageId": 999_999, "emoji": "👍"}, "message_not_found"),
        ({"type": "message", "text": "re", "replyTo": 999_999}, "message_not_found"),
        ({"type": "react", "emoji": "🦄"}, "invalid_message"),
        ({"type": "edit", "text": ""}, "invalid_message"),
        ({"type": "edit", "text": "x" * 4001}, "invalid_message"),
        ({"type": "message", "text": "x", "attachments": ["not-a-uuid"]}, "invalid_message"),
    ],
    ids=[
        "edit-unknown",
        "delete-unknown",
        "react-unknown",
        "reply-unknown",
        "react-emoji",
        "edit-empty",
        "edit-long",
        "attachment-id",
    ],
)
def test_unknown_messages_and_bad_input_get_their_error_codes(
    room: Room, store: ChatStore, frame: dict[str, Any], code: str
) -> None:
    """Unknown message ids answer ``message_not_found``; an emoji outside the set or bad text ``invalid_message``."""
    _alice, _bob, group, a, _b = _chat_room(room, store)
    original = _post(room, a, group, "target")
    body = {"roomId": group, "messageId": original["id"], **frame}
    room.send(a, body)
    assert room.one(a, "error")["code"] == code


def test_a_message_of_another_room_is_not_found_through_this_one(room: Room, store: ChatStore) -> None:
    """Editing, reacting to or replying to a message by naming the wrong room is ``message_not_found``."""
    alice, _bob, group, a, _b = _chat_room(room, store)
    other = store.create_group("other", private=False, created_by=alice.user_id)
    elsewhere = store.save_message(other.id, alice.user_id, "elsewhere", None).message
    for frame in (
        {"type": "edit", "roomId": group, "messageId": elsewhere.id, "text": "x"},
        {"type": "react", "roomId": group, "messageId": elsewhere.id, "emoji": "👍"},
        {"type": "message", "roomId": group, "text": "re", "replyTo": elsewhere.id},
    ):
        room.send(a, frame)
        assert room.one(a, "error")["code"] == "message_not_found"


def test_non_members_cannot_edit_delete_or_react(room: Room, store: ChatStore) -> None:
    """A user outside a private group gets ``forbidden`` for every message action in it."""
    alice, carol = room.user("alice"), room.user("carol")
    group = store.create_group("board", private=True, created_by=alice.user_id)
    message = store.save_message(group.id, alice.user_id, "private", None).message
    c = room.connect(carol, "c1")
    for frame in (
        {"type": "edit", "messageId": message.id, "text": "x"},
        {"type": "delete", "messageId": message.id},
        {"type": "react", "messageId": message.id, "emoji": "👍"},
    ):
        room.send(c, {"roomId": group.id, **frame})
        assert room.one(c, "error")["code"] == "forbidden"
    stored = store.message(group.id, message.id)
    assert stored is not None and stored.content == "private" and stored.reactions == []


def test_react_toggles_and_everyone_gets_the_counts(room: Room, store: ChatStore) -> None:
    """``reaction`` carries the message's counts and who reacted; the second toggle takes it back."""
    _alice, _bob, group, a, b = _chat_room(room, store)
    original = _post(room, a, group, "lunch?")
    room.new(b)
    room.send(b, {"type": "react", "roomId": group, "messageId": original["id"], "emoji": "👍"})
    first = room.one(a, "reaction")
    assert first["messageId"] == original["id"]
    assert first["reactions"] == [{"emoji": "👍", "count": 1, "users": ["bob"]}]
    room.new(b)
    room.send(b, {"type": "react", "roomId": group, "messageId": original["id"], "emoji": "👍"})
    assert room.one(a, "reaction")["reactions"] == []
    assert room.one(b, "reaction")["rev"] > first["rev"]


def test_a_reply_quotes_the_original(room: Room, store: ChatStore) -> None:
    """A ``message`` with ``replyTo`` reaches the room quoting the original's id, sender and text."""
    _alice, _bob, group, a, b = _chat_room(room, store)
    original = _post(room, a, group, "who is in?")
    room.new(b)
    room.send(b, {"type": "message", "roomId": group, "text": "me", "replyTo": original["id"]})
    reply = room.one(a, "message")["message"]
    assert reply["replyTo"] == {"id": original["id"], "sender": "alice", "text": "who is in?"}


def test_a_mention_notifies_every_tab_of_the_member_even_away_from_the_room(room: Room, store: ChatStore) -> None:
    """``@bob`` (any case) is stored as a mention and Bob's other tab, not looking at the room, gets ``mention``;
    ``@carol`` (not a member) is no mention."""
    _alice, bob, group, a, b = _chat_room(room, store)
    room.user("carol")
    b2 = room.connect(bob, "b2")
    room.new(b2)
    message = _post(room, a, group, "@BOB look, and @carol too")
    assert message["mentions"] == ["bob"]
    for cid in (b, b2):
        assert room.one(cid, "mention")["message"]["id"] == message["id"]
    assert [f for f in room.new(a) if f["type"] == "mention"] == []


def test_an_edit_that_adds_a_mention_notifies_only_the_newly_mentioned(room: Room, store: ChatStore) -> None:
    """Editing ``@bob`` into a message notifies Bob once; editing again (still ``@bob``) does not."""
    _alice, _bob, group, a, b = _chat_room(room, store)
    message = _post(room, a, group, "hello")
    room.new(b)
    room.send(a, {"type": "edit", "roomId": group, "messageId": message["id"], "text": "hello @bob"})
    assert room.one(b, "mention")["message"]["text"] == "hello @bob"
    room.send(a, {"type": "edit", "roomId": group, "messageId": message["id"], "text": "hello again @bob"})
    assert [f["type"] for f in room.new(b)] == ["message_edited"]


def test_join_with_since_rev_brings_edits_deletions_and_reactions_made_while_away(room: Room, store: ChatStore) -> None:
    """A client that saw up to (since, sinceRev) gets the older messages changed since in ``changes``."""
    _alice, bob, group, a, _b = _chat_room(room, store)
    one, two, three = (_post(room, a, group, t) for t in ("one", "two", "three"))
    since, since_rev = three["id"], three["rev"]
    room.send(a, {"type": "edit", "roomId": group, "messageId": one["id"], "text": "one!"})
    room.send(a, {"type": "delete", "roomId": group, "messageId": two["id"]})
    room.send(a, {"type": "react", "roomId": group, "messageId": three["id"], "emoji": "🎉"})
    four = _post(room, a, group, "four")

    b2 = room.connect(bob, "b2")
    room.send(b2, {"type": "join", "roomId": group, "since": since, "sinceRev": since_rev})
    joined = room.one(b2, "joined")
    assert [m["id"] for m in joined["history"]] == [four["id"]]
    changes = {m["id"]: m for m in joined["changes"]}
    assert list(changes) == [one["id"], two["id"], three["id"]] and joined["changesHasMore"] is False
    assert changes[one["id"]]["text"] == "one!" and changes[two["id"]]["deleted"] is True
    assert changes[three["id"]]["reactions"] == [{"emoji": "🎉", "count": 1, "users": ["alice"]}]


def test_a_message_carries_its_uploaded_files_and_they_are_tagged_sent(
    room: Room, store: ChatStore, bucket: FileBucket
) -> None:
    """Files announced and uploaded for the room travel with the message (id, name, size, type) and leave the
    lifecycle rule's reach; a file never uploaded, or someone else's, is refused."""
    alice, bob, group, a, b = _chat_room(room, store)
    file_id, missing, bobs = str(uuid.uuid4()), str(uuid.uuid4()), str(uuid.uuid4())
    store.create_attachment(file_id, group, alice.user_id, name="cat.png", size=3, content_type="image/png")
    store.create_attachment(missing, group, alice.user_id, name="ghost.png", size=3, content_type="image/png")
    store.create_attachment(bobs, group, bob.user_id, name="b.png", size=3, content_type="image/png")
    bucket._client.put_object(Bucket=BUCKET, Key=f"rooms/{group}/{file_id}", Body=b"png", Tagging="state=pending")

    for wrong in (missing, bobs):
        room.send(a, {"type": "message", "roomId": group, "text": "pic", "attachments": [wrong]})
        assert room.one(a, "error")["code"] == "invalid_message"
    message = _post(room, a, group, "pic", attachments=[file_id])

    assert message["attachments"] == [{"id": file_id, "name": "cat.png", "size": 3, "type": "image/png"}]
    assert room.one(b, "message")["message"]["attachments"][0]["id"] == file_id
    tags = bucket._client.get_object_tagging(Bucket=BUCKET, Key=f"rooms/{group}/{file_id}")["TagSet"]
    assert tags == [{"Key": "state", "Value": "sent"}]

    room.send(a, {"type": "delete", "roomId": group, "messageId": message["id"]})
    room.one(a, "message_deleted")
    assert bucket._client.list_objects_v2(Bucket=BUCKET).get("KeyCount") == 0


# ---------------------------------------------------------------- large rooms (issue 18)


class Jobs:
    """moto's SQS queue of fan-out jobs, as the services are given it."""

    def __init__(self) -> None:
        import boto3
        from chatcore.aws.queue import FanoutQueue

        self.client = boto3.client("sqs", region_name="us-east-1")
        self.url = self.client.create_queue(QueueName="fanout-jobs")["QueueUrl"]
        self.queue = FanoutQueue(self.client, self.url)

    def taken(self) -> list[FanoutJob]:
        """Every job queued so far (received and deleted)."""
        found: list[FanoutJob] = []
        while messages := self.client.receive_message(QueueUrl=self.url, MaxNumberOfMessages=10).get("Messages", []):
            found += [FanoutJob.from_json(m["Body"]) for m in messages]
            for m in messages:
                self.client.delete_message(QueueUrl=self.url, ReceiptHandle=m["ReceiptHandle"])
        return found


LARGE_FROM = 3
"""Rooms of more than 2 members count as large in these tests (FANOUT_LARGE_ROOM is 1,000 by default)."""


@pytest.fixture
def jobs(aws: None) -> Jobs:
    return Jobs()


@pytest.fixture
def large(
    store: ChatStore, registry: ConnectionRegistry, management: ManagementFake, tokens: TokenService, jobs: Jobs
) -> Room:
    """A chat service whose rooms of 3 or more members are large (the fan-out queue is moto's SQS)."""
    fanout = Fanout(registry, Broadcaster(management, max_workers=8))
    delivery = RoomDelivery(registry, fanout, jobs.queue, large_room=LARGE_FROM - 1)
    return Room(ChatService(store, registry, fanout, delivery=delivery), store, tokens, registry)


def _large_room(room: Room, store: ChatStore, *, shards: int = 1) -> tuple[Identity, Identity, int]:
    """A public group of alice, bob and carol (large here), with ``shards`` registry shards."""
    alice, bob, carol = room.user("alice"), room.user("bob"), room.user("carol")
    group = store.create_group("all-hands", private=False, created_by=alice.user_id)
    store.add_member(group.id, bob.user_id)
    store.add_member(group.id, carol.user_id)
    if shards > 1:
        store._db.execute("UPDATE rooms SET shards = %s WHERE id = %s", (shards, group.id))
    return alice, bob, group.id


def test_typing_in_a_large_room_is_dropped(large: Room, store: ChatStore, jobs: Jobs) -> None:
    """Nobody hears ``typing`` in a large room (it would be a post to every viewer per keystroke burst), and
    nothing is queued for it."""
    alice, bob, group = _large_room(large, store)
    a, b = large.connect(alice, "a1"), large.connect(bob, "b1")
    for cid in (a, b):
        large.send(cid, {"type": "join", "roomId": group})
    large.new(a), large.new(b)

    large.send(a, {"type": "typing", "roomId": group})

    assert large.new(a) == [] and large.new(b) == []
    assert jobs.taken() == []


def test_a_read_receipt_in_a_large_room_reaches_only_the_readers_own_tabs(
    large: Room, store: ChatStore, jobs: Jobs
) -> None:
    """The marker is stored and every tab of the reader hears ``read`` (to clear its unread count); the other
    viewers of the room hear nothing."""
    alice, bob, group = _large_room(large, store)
    message_id = store.save_message(group, alice.user_id, "read me", None).message.id
    a, b1, b2 = large.connect(alice, "a1"), large.connect(bob, "b1"), large.connect(bob, "b2")
    for cid in (a, b1):
        large.send(cid, {"type": "join", "roomId": group})
    for cid in (a, b1, b2):
        large.new(cid)

    large.send(b1, {"type": "read", "roomId": group, "messageId": message_id})

    receipt = {"type": "read", "roomId": group, "user": "bob", "messageId": message_id}
    assert large.one(b1, "read") == receipt and large.one(b2, "read") == receipt
    assert large.new(a) == []
    assert {m.username: m.last_read_message_id for m in store.list_members(group)}["bob"] == message_id
    assert jobs.taken() == []


def test_a_message_to_a_large_room_is_acknowledged_at_once_and_queued_one_job_per_shard(
    large: Room, store: ChatStore, registry: ConnectionRegistry, management: ManagementFake, jobs: Jobs
) -> None:
    """The sender hears its stored message before any worker runs; the room gets one job per registry shard,
    carrying the frame, and the workers then reach every other connection (the jobs skip the sender's, which
    already has it)."""
    alice, bob, group = _large_room(large, store, shards=4)
    a, b = large.connect(alice, "a1"), large.connect(bob, "b1")

    large.send(a, {"type": "message", "roomId": group, "text": "all hands in five", "clientMsgId": "m1"})

    ack = large.one(a, "message")
    stored, _ = store.latest_messages(group, 5)
    assert (ack["message"]["id"], ack["message"]["text"]) == (stored[0].id, "all hands in five")
    assert large.new(b) == []  # not yet: it is in the queue
    queued = sorted(jobs.taken(), key=lambda j: j.shard or 0)
    assert [(j.room_id, j.shard, j.connection_ids) for j in queued] == [(group, s, ()) for s in range(4)]
    assert {json.loads(j.frame)["message"]["id"] for j in queued} == {stored[0].id}

    fanout = Fanout(registry, Broadcaster(management, max_workers=4))
    worker = FanoutWorker(registry, fanout, jobs.queue)
    assert sum(worker.run(job) for job in queued) == 1
    assert large.one(b, "message")["message"]["id"] == stored[0].id
    assert large.new(a) == []  # its acknowledgment was its one copy


def test_a_retry_of_a_stored_message_to_a_large_room_queues_nothing(large: Room, store: ChatStore, jobs: Jobs) -> None:
    """Resending with the same clientMsgId only acknowledges the sender again: no second fan-out."""
    alice, _bob, group = _large_room(large, store)
    a = large.connect(alice, "a1")
    frame = {"type": "message", "roomId": group, "text": "once", "clientMsgId": "m1"}
    large.send(a, frame)
    assert len(jobs.taken()) == 1
    large.new(a)
    large.send(a, frame)
    assert large.one(a, "message")["message"]["clientMsgId"] == "m1"
    assert jobs.taken() == []


def test_above_a_hundred_members_joins_and_presence_are_not_announced(
    store: ChatStore, registry: ConnectionRegistry, management: ManagementFake, tokens: TokenService
) -> None:
    """In a group of more than 100 members a new member's arrival is no ``member_joined`` to the room, and the
    members do not become each other's presence contacts (bob's last tab closing tells alice nothing)."""
    fanout = Fanout(registry, Broadcaster(management))
    room = Room(ChatService(store, registry, fanout), store, tokens, registry)
    alice, bob = room.user("alice"), room.user("bob")
    group = store.create_group("crowd", private=False, created_by=alice.user_id)
    for n in range(100):
        store.add_member(group.id, store.create_user(f"member{n:03}", "x").id)
    a, b = room.connect(alice, "a1"), room.connect(bob, "b1")
    room.send(a, {"type": "join", "roomId": group.id})
    room.new(a)

    room.send(b, {"type": "join", "roomId": group.id})  # bob becomes member 102

    assert room.one(b, "joined")["roomId"] == group.id
    assert [f for f in room.new(a) if f["type"] == "member_joined"] == []
    fanout.forget_connections([b])
    assert [f for f in room.new(a) if f["type"] == "presence"] == []
