"""The frames the server sends, with the parts they share, and the ``error`` frame with its stable codes."""

# Not `from __future__ import annotations`: pydantic would then evaluate each annotation's string when a model
# class is created; real annotations cost a cold start less (about 2 ms for the frame models).
from enum import StrEnum
from typing import Any, Literal

from pydantic import Field, SerializerFunctionWrapHandler, model_serializer

from chatcore.fields import MAX_TEXT_LENGTH
from chatcore.protocol.base import ServerModel
from chatcore.protocol.presence import PresenceOut


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


class UserInfo(ServerModel):
    id: int
    username: str
    nickname: str | None = None


class RoomInfo(ServerModel):
    id: int
    name: str
    private: bool
    kind: Literal["group", "direct"]
    description: str | None = None
    other: UserInfo | None = None
    """The other member of a direct chat."""


class Member(ServerModel):
    id: int
    username: str
    nickname: str | None = None
    online: bool = False
    last_read_message_id: int = Field(default=0, alias="lastReadMessageId")


class ReplyRef(ServerModel):
    """The message a reply answers, as the reply quotes it."""

    id: int
    sender: str
    text: str
    """The first 200 characters ("" when deleted)."""
    deleted: bool | None = None


class AttachmentInfo(ServerModel):
    id: str
    name: str
    size: int
    type: str


class ReactionCount(ServerModel):
    emoji: str
    count: int
    users: list[str]
    """Up to 20 of the users who reacted, first come first."""


class ChatMessage(ServerModel):
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


class JoinedOut(ServerModel):
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


class MemberJoinedOut(ServerModel):
    """Told to the room's other connections; never the joiner's connection id (a handle to push frames to it)."""

    type: Literal["member_joined"] = "member_joined"
    room_id: int = Field(alias="roomId")
    user: str


class MemberLeftOut(ServerModel):
    type: Literal["member_left"] = "member_left"
    room_id: int = Field(alias="roomId")
    user: str


class MessageOut(ServerModel):
    type: Literal["message"] = "message"
    room_id: int = Field(alias="roomId")
    message: ChatMessage


class MessageEditedOut(ServerModel):
    type: Literal["message_edited"] = "message_edited"
    room_id: int = Field(alias="roomId")
    message: ChatMessage


class MessageDeletedOut(ServerModel):
    type: Literal["message_deleted"] = "message_deleted"
    room_id: int = Field(alias="roomId")
    message_id: int = Field(alias="messageId")
    message: ChatMessage
    """The tombstone."""


class ReactionOut(ServerModel):
    type: Literal["reaction"] = "reaction"
    room_id: int = Field(alias="roomId")
    message_id: int = Field(alias="messageId")
    rev: int
    reactions: list[ReactionCount]


class MentionOut(ServerModel):
    """To every connection of a user a message mentions (``@username``), whether or not it shows the room."""

    type: Literal["mention"] = "mention"
    room_id: int = Field(alias="roomId")
    message: ChatMessage


class ListOut(ServerModel):
    type: Literal["list"] = "list"
    room_id: int = Field(alias="roomId")
    members: list[Member]
    has_more: bool = Field(default=False, alias="hasMore")
    """More members after the last one here: ask again with ``after`` = its username."""


class HistoryOut(ServerModel):
    type: Literal["history"] = "history"
    room_id: int = Field(alias="roomId")
    messages: list[ChatMessage]
    has_more: bool = Field(alias="hasMore")


class TypingOut(ServerModel):
    type: Literal["typing"] = "typing"
    room_id: int = Field(alias="roomId")
    user: str


class ReadOut(ServerModel):
    type: Literal["read"] = "read"
    room_id: int = Field(alias="roomId")
    user: str
    message_id: int = Field(alias="messageId")


class RoomAddedOut(ServerModel):
    """The user became a member of a room (added, joined a public group, or a direct chat was opened)."""

    type: Literal["room_added"] = "room_added"
    room_id: int = Field(alias="roomId")
    room: RoomInfo


class RoomUpdatedOut(ServerModel):
    type: Literal["room_updated"] = "room_updated"
    room_id: int = Field(alias="roomId")
    room: RoomInfo


class RoomRemovedOut(ServerModel):
    """The user is no longer a member: removed by the owner, left (from another tab), or the room is gone."""

    type: Literal["room_removed"] = "room_removed"
    room_id: int = Field(alias="roomId")
    reason: Literal["removed", "left", "deleted"]


class UserUpdatedOut(ServerModel):
    type: Literal["user_updated"] = "user_updated"
    user: UserInfo


class PongOut(ServerModel):
    type: Literal["pong"] = "pong"
    ts: int


class ErrorOut(ServerModel):
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
