"""The frames a client sends, and the parser that turns one into its model or an ``error`` frame.

Incoming frames are JSON objects routed on ``type``. Fields a client may send but the server never
trusts (``sender``, ``username``, ``userId``) are ignored: identity comes from the connection record.
"""

# Not `from __future__ import annotations`: pydantic would then evaluate each annotation's string when a model
# class is created; real annotations cost a cold start less (about 2 ms for the frame models).
import json
from typing import Annotated, Any, Literal, cast, get_args
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, ValidationError

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
from chatcore.protocol.server import ErrorCode, ErrorOut, error_frame

Reaction = Literal[REACTIONS]  # type: ignore[valid-type]  # the set is stated once, in chatcore.fields


class _Frame(BaseModel):
    # Unknown fields (``sender``/``username`` that older clients send) are accepted and dropped. Validators are
    # built on first use (``defer_build``), not at import: only the message function parses client frames.
    model_config = ConfigDict(extra="ignore", populate_by_name=True, frozen=True, defer_build=True)


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
