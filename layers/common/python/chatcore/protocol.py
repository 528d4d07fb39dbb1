"""The WebSocket wire protocol: every frame as a pydantic model, and the parser for incoming frames.

Incoming frames are JSON objects routed on ``type``. Fields a client may send but the server never
trusts (``sender``, ``username``, ``userId``) are ignored: identity comes from the connection record.
"""

# Not `from __future__ import annotations`: pydantic would then evaluate each annotation's string when a model
# class is created; real annotations cost a cold start less (about 2 ms in protocol.py).
import json
from enum import StrEnum
from typing import Annotated, Any, Literal, cast, get_args
from uuid import UUID

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    ValidationError,
    model_serializer,
)

from chatcore.fields import (
    DEFAULT_HISTORY_LIMIT,
    MAX_ATTACHMENTS,
    MAX_CLIENT_MSG_ID_LENGTH,
    MAX_DB_ID,
    MAX_FRAME_BYTES,
    MAX_HISTORY_LIMIT,
    MAX_TEXT_LENGTH,
    REACTIONS,
    Count,
    EncodableText,
    Id,
    MessageId,
    StorableText,
)
from chatcore.fields import Id as RoomId

Reaction = Literal[REACTIONS]  # type: ignore[valid-type]  # the set is stated once, in chatcore.fields


class ErrorCode(StrEnum):
    """Stable error codes sent in ``error`` frames."""

    INVALID_MESSAGE = "invalid_message"
    UNKNOWN_TYPE = "unknown_type"
    ROOM_NOT_FOUND = "room_not_found"
    FORBIDDEN = "forbidden"
    MESSAGE_TOO_LONG = "message_too_long"
    RATE_LIMITED = "rate_limited"
    SAVE_FAILED = "save_failed"
    UNAVAILABLE = "unavailable"
    NOT_CONNECTED = "not_connected"
    INTERNAL_ERROR = "internal_error"
    FRAME_TOO_LARGE = "frame_too_large"
    MESSAGE_NOT_FOUND = "message_not_found"


# For the first three codes the message is the string the first clients matched on, so they keep working.
ERROR_MESSAGES: dict[ErrorCode, str] = {
    ErrorCode.INVALID_MESSAGE: "invalid_message",
    ErrorCode.UNKNOWN_TYPE: "unknown_type",
    ErrorCode.ROOM_NOT_FOUND: "Room not found",
    ErrorCode.FORBIDDEN: "You are not allowed to do that in this room",
    ErrorCode.MESSAGE_TOO_LONG: f"Message is longer than {MAX_TEXT_LENGTH} characters",
    ErrorCode.RATE_LIMITED: "Too many messages; slow down",
    ErrorCode.SAVE_FAILED: "Failed to save message",
    ErrorCode.UNAVAILABLE: "The service is temporarily unavailable; try again",
    ErrorCode.NOT_CONNECTED: "This connection is not registered; reconnect",
    ErrorCode.INTERNAL_ERROR: "Something went wrong on our side",
    ErrorCode.FRAME_TOO_LARGE: "The answer would not fit in one frame; ask for less",
    ErrorCode.MESSAGE_NOT_FOUND: "Message not found in this room",
}


class _Frame(BaseModel):
    # Unknown fields (``sender``/``username`` that older clients send) are accepted and dropped. Validators are
    # built on first use (``defer_build``), not at import: only the message function parses client frames.
    model_config = ConfigDict(extra="ignore", populate_by_name=True, frozen=True, defer_build=True)


# ---------------------------------------------------------------- client to server


class JoinFrame(_Frame):
    type: Literal["join"]
    room_id: RoomId = Field(alias="roomId")
    since: MessageId | None = None
    """The newest message id the client holds: ``joined.history`` is what came after it."""
    since_rev: MessageId | None = Field(default=None, alias="sinceRev")
    """The highest ``rev`` the client saw: ``joined.changes`` are the older messages changed since."""


class MessageFrame(_Frame):
    type: Literal["message"]
    room_id: RoomId = Field(alias="roomId")
    text: StorableText = Field(min_length=1, max_length=MAX_TEXT_LENGTH)
    client_msg_id: StorableText | None = Field(
        default=None, alias="clientMsgId", min_length=1, max_length=MAX_CLIENT_MSG_ID_LENGTH
    )
    reply_to: Id | None = Field(default=None, alias="replyTo")
    """The id of the message (of the same room) this one answers."""
    attachments: list[UUID] = Field(default_factory=list, max_length=MAX_ATTACHMENTS)
    """Files uploaded for this room by the sender (``POST /rooms/{id}/attachments``), not yet sent."""


class EditFrame(_Frame):
    type: Literal["edit"]
    room_id: RoomId = Field(alias="roomId")
    message_id: Id = Field(alias="messageId")
    text: StorableText = Field(min_length=1, max_length=MAX_TEXT_LENGTH)


class DeleteFrame(_Frame):
    type: Literal["delete"]
    room_id: RoomId = Field(alias="roomId")
    message_id: Id = Field(alias="messageId")


class ReactFrame(_Frame):
    type: Literal["react"]
    room_id: RoomId = Field(alias="roomId")
    message_id: Id = Field(alias="messageId")
    emoji: Reaction


class LeaveFrame(_Frame):
    type: Literal["leave"]
    room_id: RoomId = Field(alias="roomId")


class ListFrame(_Frame):
    type: Literal["list"]
    room_id: RoomId = Field(alias="roomId")
    after: EncodableText | None = Field(default=None, max_length=64)
    """The username the previous page ended with: members sort by username."""


class HistoryFrame(_Frame):
    type: Literal["history"]
    room_id: RoomId = Field(alias="roomId")
    before: MessageId | None = None
    limit: Count = Field(default=DEFAULT_HISTORY_LIMIT, ge=1, le=MAX_HISTORY_LIMIT)


class TypingFrame(_Frame):
    type: Literal["typing"]
    room_id: RoomId = Field(alias="roomId")


class ReadFrame(_Frame):
    type: Literal["read"]
    room_id: RoomId = Field(alias="roomId")
    message_id: MessageId = Field(alias="messageId")


class PingFrame(_Frame):
    type: Literal["ping"]


ClientFrame = Annotated[
    JoinFrame
    | MessageFrame
    | EditFrame
    | DeleteFrame
    | ReactFrame
    | LeaveFrame
    | ListFrame
    | HistoryFrame
    | TypingFrame
    | ReadFrame
    | PingFrame,
    Field(discriminator="type"),
]
# Each frame's model by its type. The parser has read the type before it validates, so it validates with that
# one model: a cold container builds the validators of the frames it receives (each model defers its build),
# not those of all eleven, which a discriminated union's adapter would.
_FRAME_MODELS: dict[str, type[_Frame]] = {
    get_args(model.model_fields["type"].annotation)[0]: model for model in get_args(get_args(ClientFrame)[0])
}
CLIENT_FRAME_TYPES: frozenset[str] = frozenset(_FRAME_MODELS)
"""Every client frame type: each is a route of the WebSocket API (the CDK app and the local gateway read it)."""


# ---------------------------------------------------------------- server to client


class _Out(BaseModel):
    # Serializers are built when a frame of the kind is first sent (``defer_build``): a function sends a few of
    # these kinds, and building all of them cost every cold start about 25 ms.
    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True, defer_build=True)


class UserInfo(_Out):
    id: int
    username: str
    nickname: str | None = None


class RoomInfo(_Out):
    id: int
    name: str
    private: bool
    kind: Literal["group", "direct"]
    description: str | None = None
    other: UserInfo | None = None
    """The other member of a direct chat."""


class Member(_Out):
    id: int
    username: str
    nickname: str | None = None
    online: bool = False
    last_read_message_id: int = Field(default=0, alias="lastReadMessageId")


class ReplyRef(_Out):
    """The message a reply answers, as the reply quotes it."""

    id: int
    sender: str
    text: str
    """The first 200 characters ("" when deleted)."""
    deleted: bool | None = None


class AttachmentInfo(_Out):
    id: str
    name: str
    size: int
    type: str


class ReactionCount(_Out):
    emoji: str
    count: int
    users: list[str]
    """Up to 20 of the users who reacted, first come first."""


class ChatMessage(_Out):
    id: int
    room_id: int = Field(alias="roomId")
    sender_id: int = Field(alias="senderId")
    sender: str
    text: str
    ts: int
    client_msg_id: str | None = Field(default=None, alias="clientMsgId")
    rev: int | None = None
    """This message's latest revision (every change takes a new one): ``join`` with ``sinceRev``."""
    edited_at: int | None = Field(default=None, alias="editedAt")
    deleted: bool | None = None
    """A tombstone: the text and attachments are gone, the id and the place in history stay."""
    reply_to: ReplyRef | None = Field(default=None, alias="replyTo")
    mentions: list[str] | None = None
    attachments: list[AttachmentInfo] | None = None
    reactions: list[ReactionCount] | None = None

    @model_serializer(mode="wrap")
    def _without_absent(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # Absent parts are left out in REST answers too, as every WebSocket frame leaves them out.
        data: dict[str, Any] = handler(self)
        return {key: value for key, value in data.items() if value is not None or key == "clientMsgId"}


class JoinedOut(_Out):
    type: Literal["joined"] = "joined"
    room_id: int = Field(alias="roomId")
    room: RoomInfo
    members: list[Member]
    """The first page of members, by username; ``list`` with ``after`` gives the rest."""
    members_has_more: bool = Field(default=False, alias="membersHasMore")
    history: list[ChatMessage]
    """The newest messages that fit (all after ``since`` when asked, as many as fit); older ones by ``history``."""
    has_more: bool = Field(alias="hasMore")
    changes: list[ChatMessage] | None = None
    """With ``sinceRev``: older messages edited, deleted or reacted to since then, oldest change first."""
    changes_has_more: bool | None = Field(default=None, alias="changesHasMore")
    """More changes than fit: the client should reload the room's history."""


class MemberJoinedOut(_Out):
    """Told to the room's other connections; never the joiner's connection id (a handle to push frames to it)."""

    type: Literal["member_joined"] = "member_joined"
    room_id: int = Field(alias="roomId")
    user: str


class MemberLeftOut(_Out):
    type: Literal["member_left"] = "member_left"
    room_id: int = Field(alias="roomId")
    user: str


class MessageOut(_Out):
    type: Literal["message"] = "message"
    room_id: int = Field(alias="roomId")
    message: ChatMessage


class MessageEditedOut(_Out):
    type: Literal["message_edited"] = "message_edited"
    room_id: int = Field(alias="roomId")
    message: ChatMessage


class MessageDeletedOut(_Out):
    type: Literal["message_deleted"] = "message_deleted"
    room_id: int = Field(alias="roomId")
    message_id: int = Field(alias="messageId")
    message: ChatMessage
    """The tombstone."""


class ReactionOut(_Out):
    type: Literal["reaction"] = "reaction"
    room_id: int = Field(alias="roomId")
    message_id: int = Field(alias="messageId")
    rev: int
    reactions: list[ReactionCount]


class MentionOut(_Out):
    """To every connection of a user a message mentions (``@username``), whether or not it shows the room."""

    type: Literal["mention"] = "mention"
    room_id: int = Field(alias="roomId")
    message: ChatMessage


class ListOut(_Out):
    type: Literal["list"] = "list"
    room_id: int = Field(alias="roomId")
    members: list[Member]
    has_more: bool = Field(default=False, alias="hasMore")
    """More members after the last one here: ask again with ``after`` = its username."""


class HistoryOut(_Out):
    type: Literal["history"] = "history"
    room_id: int = Field(alias="roomId")
    messages: list[ChatMessage]
    has_more: bool = Field(alias="hasMore")


class TypingOut(_Out):
    type: Literal["typing"] = "typing"
    room_id: int = Field(alias="roomId")
    user: str


class ReadOut(_Out):
    type: Literal["read"] = "read"
    room_id: int = Field(alias="roomId")
    user: str
    message_id: int = Field(alias="messageId")


class RoomAddedOut(_Out):
    """The user became a member of a room (added, joined a public group, or a direct chat was opened)."""

    type: Literal["room_added"] = "room_added"
    room_id: int = Field(alias="roomId")
    room: RoomInfo


class RoomUpdatedOut(_Out):
    type: Literal["room_updated"] = "room_updated"
    room_id: int = Field(alias="roomId")
    room: RoomInfo


class RoomRemovedOut(_Out):
    """The user is no longer a member: removed by the owner, left (from another tab), or the room is gone."""

    type: Literal["room_removed"] = "room_removed"
    room_id: int = Field(alias="roomId")
    reason: Literal["removed", "left", "deleted"]


class PresenceOut(_Out):
    type: Literal["presence"] = "presence"
    user: str
    online: bool


class UserUpdatedOut(_Out):
    type: Literal["user_updated"] = "user_updated"
    user: UserInfo


class PongOut(_Out):
    type: Literal["pong"] = "pong"
    ts: int


class ErrorOut(_Out):
    type: Literal["error"] = "error"
    code: ErrorCode
    message: str
    detail: str | None = None
    request_type: str | None = Field(default=None, alias="requestType")
    room_id: int | None = Field(default=None, alias="roomId")
    client_msg_id: str | None = Field(default=None, alias="clientMsgId")


ServerFrame = (
    JoinedOut
    | MemberJoinedOut
    | MemberLeftOut
    | MessageOut
    | MessageEditedOut
    | MessageDeletedOut
    | ReactionOut
    | MentionOut
    | ListOut
    | HistoryOut
    | TypingOut
    | ReadOut
    | RoomAddedOut
    | RoomUpdatedOut
    | RoomRemovedOut
    | PresenceOut
    | UserUpdatedOut
    | PongOut
    | ErrorOut
)


def encode(frame: ServerFrame | ChatMessage | Member) -> bytes:
    """Serialise a server frame (or a part of one) once, for posting to one or many connections."""
    return frame.model_dump_json(by_alias=True, exclude_none=True).encode()


# ---------------------------------------------------------------- parsing


class FrameError(Exception):
    """An incoming frame that cannot be handled; carries the ``error`` frame to send back."""

    def __init__(self, code: ErrorCode, detail: str, raw: dict[str, Any] | None = None) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail
        self.raw = raw or {}

    def to_frame(self) -> ErrorOut:
        """The ``error`` frame telling the client what was wrong, echoing what it can of the request."""
        return error_frame(
            self.code,
            detail=self.detail,
            request_type=_str_or_none(self.raw.get("type")),
            room_id=_int_or_none(self.raw.get("roomId")),
            client_msg_id=_str_or_none(self.raw.get("clientMsgId")),
        )


def error_frame(
    code: ErrorCode,
    *,
    detail: str | None = None,
    request_type: str | None = None,
    room_id: int | None = None,
    client_msg_id: str | None = None,
) -> ErrorOut:
    """Build an ``error`` frame with the stable message for ``code``."""
    return ErrorOut(
        code=code,
        message=ERROR_MESSAGES[code],
        detail=detail,
        request_type=request_type,
        room_id=room_id,
        client_msg_id=client_msg_id,
    )


def parse_client_frame(body: str | bytes | None) -> ClientFrame:
    """Parse and validate one incoming frame, raising :class:`FrameError` with the right code."""
    if body is None:
        raise FrameError(ErrorCode.INVALID_MESSAGE, "Empty frame")
    raw_bytes = body.encode("utf-8", "surrogatepass") if isinstance(body, str) else body
    if len(raw_bytes) > MAX_FRAME_BYTES:
        raise FrameError(ErrorCode.INVALID_MESSAGE, f"Frame is larger than {MAX_FRAME_BYTES} bytes")
    try:
        data = json.loads(raw_bytes)
    except (ValueError, RecursionError):
        raise FrameError(ErrorCode.INVALID_MESSAGE, "Frame is not valid JSON") from None
    if not isinstance(data, dict):
        raise FrameError(ErrorCode.INVALID_MESSAGE, "Frame must be a JSON object")
    frame_type = data.get("type")
    if not isinstance(frame_type, str):
        raise FrameError(ErrorCode.INVALID_MESSAGE, "Frame needs a string field 'type'", data)
    if frame_type not in CLIENT_FRAME_TYPES:
        raise FrameError(ErrorCode.UNKNOWN_TYPE, f"Unknown frame type {frame_type[:40]!r}", data)
    text = data.get("text")
    if frame_type == "message" and isinstance(text, str) and len(text) > MAX_TEXT_LENGTH:
        raise FrameError(
            ErrorCode.MESSAGE_TOO_LONG,
            f"Message text is {len(text)} characters; the limit is {MAX_TEXT_LENGTH}",
            data,
        )
    try:
        frame = cast("ClientFrame", _FRAME_MODELS[frame_type].model_validate(data))
    except ValidationError as exc:
        raise FrameError(ErrorCode.INVALID_MESSAGE, _describe(exc), data) from None
    return frame


def _describe(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors(include_url=False, include_input=False)[:5]:
        location = ".".join(str(p) for p in err["loc"]) or "frame"
        parts.append(f"{location}: {err['msg']}")
    return "; ".join(parts)


def _str_or_none(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    echoed = value[:MAX_CLIENT_MSG_ID_LENGTH]
    try:
        echoed.encode("utf-8")  # a lone surrogate could not be sent back
    except UnicodeEncodeError:
        return None
    return echoed


def _int_or_none(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and 0 < value <= MAX_DB_ID else None
