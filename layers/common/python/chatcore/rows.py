"""The chat's records, as the stores return them and the services pass them around.

Plain frozen dataclasses, free of any database or AWS type: PostgreSQL rows (users, rooms, members,
messages, tags) and the connection registry's records (connections, their usage, a room's audience).
A *room* is any conversation; its ``kind`` says whether it is a group or a direct (1:1) chat.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, Literal, TypeVar

T = TypeVar("T")

RoomKind = Literal["group", "direct"]
Role = Literal["owner", "member"]


# ---------------------------------------------------------------- PostgreSQL


@dataclass(frozen=True, slots=True)
class UserRow:
    id: int
    username: str
    email: str | None
    nickname: str | None
    avatar: str | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Credentials:
    id: int
    username: str
    password_hash: str


@dataclass(frozen=True, slots=True)
class LoginCounter:
    """Failed logins counted for one throttling key (a username, an address, or the pair) in its window."""

    failures: int
    """Failures in the current window; 0 when no window is running."""
    window_ends: datetime | None
    """When the current window ends and its failures are forgotten; None when no window is running."""
    last_attempt: datetime | None
    """When the last attempt that was let through began (whatever its outcome)."""


@dataclass(frozen=True, slots=True)
class RoomRow:
    id: int
    name: str
    private: bool
    kind: RoomKind
    created_by: int | None
    created_at: datetime
    description: str = ""
    shards: int = 1
    """The registry shards the room's connections are spread over (migration 0009): readers read them all."""
    member_count: int = 0


@dataclass(frozen=True, slots=True)
class RoomSummary:
    """A room as listed to one user: with its member count, the caller's role and unread count."""

    id: int
    name: str
    private: bool
    kind: RoomKind
    created_at: datetime
    member_count: int
    role: Role | None
    unread: int
    """Unread messages, counted up to 100."""
    description: str = ""


@dataclass(frozen=True, slots=True)
class Conversation:
    """A room in the caller's sidebar: what it is, what is unread, and its latest message."""

    id: int
    kind: RoomKind
    name: str
    private: bool
    description: str
    other_id: int | None
    other_username: str | None
    other_nickname: str | None
    unread: int
    last_message_id: int | None
    last_sender: str | None
    last_text: str | None
    """The first 140 characters of the latest message ("" for a deleted one)."""
    last_at: datetime | None
    mentions: int = 0
    """Unread messages that mention the user (counted up to 100)."""
    last_deleted: bool = False


@dataclass(frozen=True, slots=True)
class DirectSummary:
    """A 1:1 chat as listed to one of its two members."""

    id: int
    other_id: int
    other_username: str
    other_nickname: str | None
    unread: int
    """Unread messages, counted up to 100 (so a long-quiet reader costs no more than a busy one)."""
    last_message_id: int | None


@dataclass(frozen=True, slots=True)
class MemberRow:
    id: int
    username: str
    nickname: str | None
    role: Role
    last_read_message_id: int


@dataclass(frozen=True, slots=True)
class MessageRow:
    id: int
    room_id: int
    user_id: int
    username: str
    content: str
    client_msg_id: str | None
    created_at: datetime
    rev: int = 0
    edited_at: datetime | None = None
    deleted_at: datetime | None = None
    reply: dict[str, Any] | None = None
    """The message replied to: ``{id, sender, text (its start), deleted}``."""
    mentions: list[str] = field(default_factory=list)
    attachments: list[dict[str, Any]] = field(default_factory=list)
    """``{id, name, size, type}`` of each file."""
    reactions: list[dict[str, Any]] = field(default_factory=list)
    """``{emoji, count, users}`` per emoji, in the order they were first used."""

    @property
    def ts(self) -> int:
        """Creation time in epoch milliseconds, as the protocol sends it."""
        return int(self.created_at.timestamp() * 1000)


@dataclass(frozen=True, slots=True)
class AttachmentRow:
    id: str
    room_id: int
    uploader_id: int
    message_id: int | None
    name: str
    size: int
    content_type: str


@dataclass(frozen=True, slots=True)
class SearchHit:
    message: MessageRow
    room_name: str
    room_kind: RoomKind
    rank: float


@dataclass(frozen=True, slots=True)
class SavedMessage:
    message: MessageRow
    created: bool
    """False when this was a retry of an already stored ``clientMsgId``."""


@dataclass(frozen=True, slots=True)
class TagCount:
    tag_name: str
    count: int


@dataclass(frozen=True, slots=True)
class PersonRow:
    """A user as found by people search: who they are, nothing private."""

    id: int
    username: str
    nickname: str | None


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of a list, and where the next one starts (None when this is the last)."""

    items: list[T]
    next: tuple[Any, ...] | None


# ---------------------------------------------------------------- the connection registry


@dataclass(frozen=True, slots=True)
class ConnectionRecord:
    connection_id: str
    user_id: int
    username: str
    connected_at: int
    """Epoch milliseconds."""
    last_seen: int
    """Epoch milliseconds of the last frame or ping."""
    expires_at: int
    """Epoch seconds."""


@dataclass(frozen=True, slots=True)
class NewConnection:
    record: ConnectionRecord
    first_of_user: bool
    """True when the user had no other connection open (the user just came online)."""


@dataclass(frozen=True, slots=True)
class Usage:
    """How many frames of each kind a connection sent in the current rate-limit window."""

    frames: int
    messages: int
    typing: int


@dataclass(frozen=True, slots=True)
class RoomConnection:
    connection_id: str
    user_id: int
    username: str


@dataclass(frozen=True, slots=True)
class RemovedConnection:
    """What a deleted connection was: whose it was (None if nothing was stored) and the rooms it had joined."""

    user_id: int | None
    username: str | None
    room_ids: list[int]
    last_of_user: bool = False
    """True when this was the user's last open connection (the user is now offline)."""
    audience: list[int] = field(default_factory=list)
    """The users to tell that this user went offline (when this was the user's last connection)."""


@dataclass(frozen=True, slots=True)
class FanoutJob:
    """One page of a large room's delivery, as the fan-out queue carries it: the encoded frame and either a
    shard of the room to read or the connections to try again."""

    room_id: int
    frame: str
    """The frame exactly as posted (JSON text): the worker needs no database."""
    shard: int | None = None
    connection_ids: tuple[str, ...] = ()
    attempt: int = 0
    unsubscribe: bool = False
    """The room is gone: also take the shard's connections out of it."""
    skip: tuple[str, ...] = ()
    """Connections posted to already (the sender's own, first): not posted to again from the shard."""

    def to_json(self) -> str:
        data: dict[str, object] = {
            "room": self.room_id,
            "frame": self.frame,
            "shard": self.shard,
            "connections": list(self.connection_ids),
            "attempt": self.attempt,
            "unsubscribe": self.unsubscribe,
        }
        if self.skip:
            data["skip"] = list(self.skip)
        return json.dumps(data, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> FanoutJob:
        data = json.loads(text)
        return cls(
            room_id=int(data["room"]),
            frame=str(data["frame"]),
            shard=None if data.get("shard") is None else int(data["shard"]),
            connection_ids=tuple(str(c) for c in data.get("connections", ())),
            attempt=int(data.get("attempt", 0)),
            unsubscribe=bool(data.get("unsubscribe", False)),
            skip=tuple(str(c) for c in data.get("skip", ())),
        )
