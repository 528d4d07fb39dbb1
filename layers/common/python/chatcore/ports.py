"""What the services need of the outside world, as protocols: the adapters implement them.

:mod:`chatcore.postgres` implements the store ports, :mod:`chatcore.aws` the registry and delivery ports;
the services see only these, so they never import psycopg, boto3 or botocore (an import contract in
``pyproject.toml`` keeps it so), and tests can hand them anything of the same shape.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol, TypeAlias

# Every import is for annotations only, and the services import this module so too: a cold start defines none of
# these protocols, and a function that needs the registry alone no PostgreSQL row.
if TYPE_CHECKING:
    from chatcore.records import (
        BroadcastResult,
        ConnectionRecord,
        Delivery,
        FanoutJob,
        NewConnection,
        RemovedConnection,
        RoomConnection,
        UploadForm,
        Usage,
    )
    from chatcore.rows import (
        AttachmentRow,
        Conversation,
        Credentials,
        DirectSummary,
        LoginCounter,
        MemberRow,
        MessageRow,
        PersonRow,
        Role,
        RoomKind,
        RoomRow,
        RoomSummary,
        SavedMessage,
        SearchHit,
        TagCount,
        UserRow,
    )

# ---------------------------------------------------------------- PostgreSQL


class Users(Protocol):
    def create_user(
        self, username: str, password_hash: str, *, email: str | None = None, nickname: str | None = None
    ) -> UserRow: ...

    def get_user(self, user_id: int) -> UserRow | None: ...

    def get_user_by_username(self, username: str) -> UserRow | None: ...

    def name_conflict(self, username: str, nickname: str | None = None) -> str | None: ...

    def get_credentials(self, username: str) -> Credentials | None: ...

    def set_password_hash(self, user_id: int, password_hash: str) -> None: ...

    def update_profile(self, user_id: int, changes: dict[str, str | None]) -> UserRow: ...

    def search_people(
        self, prefix: str, *, limit: int, offset: int, exclude_user: int | None = None
    ) -> list[PersonRow]: ...


class AccountRemoval(Protocol):
    def delete_user(self, user_id: int) -> bool: ...


class Rooms(Protocol):
    def create_group(self, name: str, *, private: bool, created_by: int) -> RoomRow: ...

    def room_and_role(self, room_id: int, user_id: int) -> tuple[RoomRow | None, Role | None]: ...

    def groups_page(
        self, user_id: int, *, mine: bool = False, after: tuple[str, int] | None = None, limit: int = 50
    ) -> tuple[list[RoomSummary], bool]: ...

    def rooms_created_since(self, user_id: int, kind: RoomKind, seconds: int) -> int: ...

    def direct_room(self, user_id: int, other_id: int) -> RoomRow | None: ...

    def room_summary(self, room_id: int, user_id: int) -> RoomSummary | None: ...

    def add_member(self, room_id: int, user_id: int, role: Role = "member") -> bool: ...

    def remove_member(self, room_id: int, user_id: int) -> bool: ...

    def list_members(self, room_id: int) -> list[MemberRow]: ...

    def members_page(self, room_id: int, *, after: str | None, limit: int) -> tuple[list[MemberRow], bool]: ...

    def member_ids(self, room_id: int, *, limit: int) -> list[int]: ...

    def get_or_create_direct(self, user_id: int, other_id: int) -> RoomRow: ...

    def member_rooms(self, user_id: int, *, limit: int) -> dict[int, int]: ...

    def membership_count(self, user_id: int) -> int: ...

    def presence_contacts(self, user_id: int, *, max_room_size: int, limit: int) -> list[int]: ...

    def conversations_page(
        self, user_id: int, *, after: tuple[int, int] | None = None, limit: int = 50
    ) -> tuple[list[Conversation], bool]: ...

    def update_group(self, room_id: int, *, name: str | None, description: str | None) -> RoomRow | None: ...

    def delete_room(self, room_id: int) -> bool: ...

    def transfer_owner(self, room_id: int, from_user: int, to_user: int) -> bool: ...

    def ban(self, room_id: int, user_id: int, by: int) -> None: ...

    def unban(self, room_id: int, user_id: int) -> None: ...

    def is_banned(self, room_id: int, user_id: int) -> bool: ...

    def direct_page(
        self, user_id: int, *, after: tuple[int, int] | None = None, limit: int = 50
    ) -> tuple[list[DirectSummary], bool]: ...


class Messages(Protocol):
    def save_message(
        self,
        room_id: int,
        user_id: int,
        text: str,
        client_msg_id: str | None,
        *,
        reply_to: int | None = None,
        mention_ids: Sequence[int] = (),
        attachment_ids: Sequence[str] = (),
    ) -> SavedMessage: ...

    def message(self, room_id: int, message_id: int) -> MessageRow | None: ...

    def edit_message(
        self, room_id: int, message_id: int, text: str, mention_ids: Sequence[int]
    ) -> MessageRow | None: ...

    def delete_message(self, room_id: int, message_id: int) -> tuple[MessageRow, list[str]] | None: ...

    def toggle_reaction(self, room_id: int, message_id: int, user_id: int, emoji: str) -> MessageRow | None: ...

    def changes_after(
        self, room_id: int, *, up_to: int, since_rev: int, limit: int
    ) -> tuple[list[MessageRow], bool]: ...

    def search_messages(
        self,
        user_id: int,
        words: Sequence[str],
        *,
        room_id: int | None = None,
        after: tuple[float, int] | None = None,
        limit: int = 20,
    ) -> tuple[list[SearchHit], bool]: ...

    def member_ids_by_username(self, room_id: int, usernames: Sequence[str]) -> list[int]: ...

    def latest_messages(self, room_id: int, limit: int) -> tuple[list[MessageRow], bool]: ...

    def messages_before(self, room_id: int, before: int, limit: int) -> tuple[list[MessageRow], bool]: ...

    def messages_after(self, room_id: int, since: int, limit: int) -> tuple[list[MessageRow], bool]: ...

    def mark_read(self, room_id: int, user_id: int, message_id: int) -> int | None: ...


class Attachments(Protocol):
    def create_attachment(
        self, attachment_id: str, room_id: int, uploader_id: int, *, name: str, size: int, content_type: str
    ) -> None: ...

    def attachment(self, attachment_id: str) -> AttachmentRow | None: ...

    def attachments(self, attachment_ids: Sequence[str]) -> list[AttachmentRow]: ...

    def attachments_created_since(self, user_id: int, seconds: int) -> int: ...


class Tags(Protocol):
    def list_tags(self, user_id: int) -> list[str]: ...

    def top_tags(self, limit: int) -> list[TagCount]: ...

    def count_tags(self, user_id: int) -> int: ...

    def add_tag(self, user_id: int, tag_name: str) -> bool: ...

    def remove_tag(self, user_id: int, tag_name: str) -> bool: ...


LoginRefusal: TypeAlias = "Callable[[dict[str, LoginCounter]], int | None]"
"""Given the counters of an attempt's keys, the seconds to wait before trying again, or None to let it through."""


class LoginFailures(Protocol):
    def begin_login_attempt(
        self, keys: list[str], *, window_seconds: int, now: datetime, refusal: LoginRefusal
    ) -> int | None: ...

    def forgive_login_attempt(self, cleared: str, others: list[str], *, window_seconds: int, now: datetime) -> None: ...

    def login_counters(self, keys: list[str], *, window_seconds: int, now: datetime) -> dict[str, LoginCounter]: ...


class Store(Users, AccountRemoval, Rooms, Messages, Attachments, Tags, LoginFailures, Protocol):
    """Every PostgreSQL port at once (:class:`chatcore.postgres.store.ChatStore`)."""


# ---------------------------------------------------------------- the connection registry (DynamoDB)


class Connections(Protocol):
    def add_connection(
        self,
        connection_id: str,
        user_id: int,
        username: str,
        *,
        max_per_user: int | None = None,
        audience: Iterable[int] = (),
    ) -> NewConnection: ...

    def user_connection_ids(self, user_id: int) -> list[str]: ...

    def users_connections(self, user_ids: Iterable[int]) -> dict[int, list[str]]: ...

    def add_to_audience(self, user_id: int, contacts: Iterable[int]) -> None: ...

    def count_frame(self, connection_id: str, kind: str) -> tuple[ConnectionRecord | None, Usage]: ...

    def touch(self, connection_id: str) -> bool: ...

    def remove_connection(self, connection_id: str, *, min_age_seconds: float = 0) -> RemovedConnection: ...

    def stale_connections(
        self, seen_before_ms: int, *, max_reads: int, start_key: dict[str, Any] | None = None
    ) -> tuple[list[ConnectionRecord], dict[str, Any] | None, int]: ...

    def prune_cursor(self) -> dict[str, Any] | None: ...

    def save_prune_cursor(self, cursor: dict[str, Any] | None) -> None: ...

    def subscribe(self, record: ConnectionRecord, room_id: int, shards: int = 1) -> None: ...

    def subscribe_rooms(self, record: ConnectionRecord, rooms: Mapping[int, int]) -> None: ...

    def subscribe_user(self, user_id: int, username: str, room_id: int, shards: int = 1) -> list[str]: ...

    def unsubscribe_user(self, user_id: int, room_id: int) -> list[str]: ...

    def unsubscribe_room(self, room_id: int, shards: int = 1) -> list[str]: ...

    def view(self, connection_id: str, room_id: int, shards: int = 1) -> bool: ...

    def unview(self, connection_id: str, room_id: int) -> bool: ...

    def room_viewers(self, room_id: int) -> list[RoomConnection]: ...

    def unsubscribe(self, connection_id: str, room_id: int) -> bool: ...

    def room_connections(self, room_id: int, shards: int = 1) -> list[RoomConnection]: ...

    def room_connection_ids(self, room_id: int, shards: int = 1) -> list[str]: ...

    def shard_connection_ids(self, room_id: int, shard: int) -> list[str]: ...

    def unsubscribe_shard(self, room_id: int, shard: int) -> list[str]: ...

    def reserve_posts(self, wanted: int, per_second: int) -> int: ...


# ---------------------------------------------------------------- the fan-out queue (SQS)


class FanoutJobs(Protocol):
    """Where a large room's delivery is queued (:class:`chatcore.aws.queue.FanoutQueue`)."""

    def enqueue(self, jobs: Sequence[FanoutJob], *, delay_seconds: int = 0) -> None: ...


# ---------------------------------------------------------------- files (S3)


class Files(Protocol):
    """The attachment bucket (:class:`chatcore.aws.files.FileBucket`)."""

    def upload_form(self, key: str, *, size: int, content_type: str, expires_in: int) -> UploadForm: ...

    def download_url(self, key: str, *, name: str, content_type: str, inline: bool, expires_in: int) -> str: ...

    def mark_sent(self, key: str) -> bool: ...

    def delete(self, keys: Sequence[str]) -> None: ...


# ---------------------------------------------------------------- delivery (the Management API)


class Poster(Protocol):
    """Posts encoded frames to connections (:class:`chatcore.aws.broadcaster.Broadcaster`)."""

    def send(self, connection_id: str, data: bytes) -> Delivery: ...

    def broadcast(self, connection_ids: Iterable[str], data: bytes) -> BroadcastResult: ...

    def probe(self, connection_id: str) -> Delivery: ...

    def close(self, connection_id: str) -> Delivery: ...
