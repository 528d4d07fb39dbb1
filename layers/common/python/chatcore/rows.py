"""The chat's rows, as the PostgreSQL stores return them and the services pass them around.

Named tuples, immutable and free of any database type: users, rooms, members, messages, attachments, tags.
Not frozen dataclasses: a dataclass writes and compiles its methods when its class is defined, about 0.6 ms
each on Python 3.12 (9 ms of the cold start of every function that stores or reads rows); a named tuple is
defined in about 0.15 ms, and builds faster too. What tuples add (comparing equal to a tuple, unpacking) nothing
relies on; a field may not take the name of a tuple method (``count``, ``index``), hence ``TagCount.uses``.
A *room* is any conversation; its ``kind`` says whether it is a group or a direct (1:1) chat. The connection
registry's records are in :mod:`chatcore.records`, apart, so the functions that need only the registry
(``$disconnect``, the fan-out worker, the prune schedule) do not define these on a cold start.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Generic, Literal, NamedTuple, TypeVar

T = TypeVar("T")

RoomKind = Literal["group", "direct"]
Role = Literal["owner", "member"]


class UserRow(NamedTuple):
    id: int
    username: str
    email: str | None
    nickname: str | None
    avatar: str | None
    created_at: datetime


class Credentials(NamedTuple):
    id: int
    username: str
    password_hash: str


class LoginCounter(NamedTuple):
    """Failed logins counted for one throttling key (a username, an address, or the pair) in its window."""

    failures: int
    """Failures in the current window; 0 when no window is running."""
    window_ends: datetime | None
    """When the current window ends and its failures are forgotten; None when no window is running."""
    last_attempt: datetime | None
    """When the last attempt that was let through began (whatever its outcome)."""


class RoomRow(NamedTuple):
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


class RoomSummary(NamedTuple):
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


class Conversation(NamedTuple):
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


class DirectSummary(NamedTuple):
    """A 1:1 chat as listed to one of its two members."""

    id: int
    other_id: int
    other_username: str
    other_nickname: str | None
    unread: int
    """Unread messages, counted up to 100 (so a long-quiet reader costs no more than a busy one)."""
    last_message_id: int | None


class MemberRow(NamedTuple):
    id: int
    username: str
    nickname: str | None
    role: Role
    last_read_message_id: int


class MessageRow(NamedTuple):
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
    mentions: Sequence[str] = ()
    attachments: Sequence[dict[str, Any]] = ()
    """``{id, name, size, type}`` of each file."""
    reactions: Sequence[dict[str, Any]] = ()
    """``{emoji, count, users}`` per emoji, in the order they were first used."""

    @property
    def ts(self) -> int:
        """Creation time in epoch milliseconds, as the protocol sends it."""
        return int(self.created_at.timestamp() * 1000)


class AttachmentRow(NamedTuple):
    id: str
    room_id: int
    uploader_id: int
    message_id: int | None
    name: str
    size: int
    content_type: str


class SearchHit(NamedTuple):
    message: MessageRow
    room_name: str
    room_kind: RoomKind
    rank: float


class SavedMessage(NamedTuple):
    message: MessageRow
    created: bool
    """False when this was a retry of an already stored ``clientMsgId``."""


class TagCount(NamedTuple):
    tag_name: str
    uses: int


class PersonRow(NamedTuple):
    """A user as found by people search: who they are, nothing private."""

    id: int
    username: str
    nickname: str | None


class Page(NamedTuple, Generic[T]):
    """One page of a list, and where the next one starts (None when this is the last)."""

    items: list[T]
    next: tuple[Any, ...] | None
