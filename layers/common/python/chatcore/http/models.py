"""Request and response bodies of the REST API (validated by Powertools' resolver).

Every string a client sends is checked before it reaches PostgreSQL: text columns cannot hold NUL, lone
surrogates cannot be encoded, and names shown to other users (nicknames, group names) carry no control or
invisible formatting characters (:func:`chatcore.fields.display_name`).
"""

# Not `from __future__ import annotations`: pydantic would then evaluate each annotation's string when a model
# class is created; real annotations cost a cold start less (about 2 ms for the frame models).
from datetime import datetime
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from chatcore.fields import (
    MAX_ATTACHMENT_BYTES,
    MAX_AVATAR_URL_LENGTH,
    MAX_PASSWORD_LENGTH,
    MAX_QUERY_LENGTH,
    MAX_SEARCH_LENGTH,
    USERNAME_PATTERN,
    GroupName,
    NewPassword,
    Nickname,
    TagName,
    encodable,
    printable,
)
from chatcore.protocol.server import ChatMessage


def _http_url(value: str) -> str:
    printable(value)
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname or any(c.isspace() for c in value):
        raise ValueError("must be an http(s) URL")
    return value


Username = Annotated[str, StringConstraints(pattern=USERNAME_PATTERN)]
Email = Annotated[
    str,
    StringConstraints(pattern=r"^[^@\s]{1,64}@[^@\s]{1,255}\.[^@\s]{1,63}$", max_length=254),
    AfterValidator(printable),
]
AvatarUrl = Annotated[
    str,
    StringConstraints(pattern=r"^https?://\S+$", max_length=MAX_AVATAR_URL_LENGTH),
    AfterValidator(_http_url),
]
SearchQuery = Annotated[str, StringConstraints(min_length=1, max_length=MAX_QUERY_LENGTH), AfterValidator(encodable)]
SearchPrefix = Annotated[str, StringConstraints(max_length=MAX_SEARCH_LENGTH), AfterValidator(encodable)]


# defer_build: a model's validator and serializer are built when a route first uses it, so a cold
# container builds those of the routes it serves, not all forty.
class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, defer_build=True)


class _Out(BaseModel):
    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True, defer_build=True)


# ---------------------------------------------------------------- auth and profile


class RegisterRequest(_In):
    username: Username
    password: NewPassword
    email: Email | None = None
    nickname: Nickname | None = None


# Any username or password up to the limits may be tried: a wrong one is a 401, not a 422 with a hint.
AnyName = Annotated[str, StringConstraints(min_length=1, max_length=64), AfterValidator(encodable)]
AnyPassword = Annotated[str, StringConstraints(min_length=1, max_length=MAX_PASSWORD_LENGTH), AfterValidator(encodable)]


class LoginRequest(_In):
    username: AnyName
    password: AnyPassword


class UserBrief(_Out):
    """A user as shown in pickers and member lists."""

    id: int
    username: str
    nickname: str | None = None


class UserOut(UserBrief):
    """Another user's public profile."""

    avatar: str | None = None


class ProfileOut(UserOut):
    """The caller's own profile."""

    email: str | None = None
    created_at: datetime = Field(alias="createdAt")


class AuthResponse(_Out):
    token: str
    token_type: Literal["Bearer"] = Field(default="Bearer", alias="tokenType")
    expires_in: int = Field(alias="expiresIn", description="Seconds until the token expires")
    user: ProfileOut


class DeleteAccountRequest(_In):
    password: AnyPassword


class ProfileUpdate(_In):
    """Fields to change; a field left out stays as it is, ``null`` clears it."""

    nickname: Nickname | None = None
    avatar: AvatarUrl | None = None
    email: Email | None = None


# ---------------------------------------------------------------- groups


class CreateGroupRequest(_In):
    name: GroupName
    private: bool = False


GroupDescription = Annotated[str, StringConstraints(strip_whitespace=True, max_length=500), AfterValidator(encodable)]


class UpdateGroupRequest(_In):
    """A new name, description, or both; a field left out stays as it is."""

    name: GroupName | None = None
    description: GroupDescription | None = None


class OwnerRequest(_In):
    username: AnyName


class GroupOut(_Out):
    id: int
    name: str
    private: bool
    kind: Literal["group", "direct"]
    created_at: datetime = Field(alias="createdAt")
    member_count: int = Field(alias="memberCount")
    is_member: bool = Field(alias="isMember")
    role: Literal["owner", "member"] | None = None
    unread: int = 0
    description: str = ""


class MemberOut(UserBrief):
    role: Literal["owner", "member"]


class GroupPage(_Out):
    """A page of groups by name; ``next`` is the cursor of the following page (null on the last)."""

    groups: list[GroupOut]
    next: str | None = None


class MemberPage(_Out):
    """A page of members by username; ``next`` is the cursor of the following page (null on the last)."""

    members: list[MemberOut]
    next: str | None = None


class GroupDetailOut(GroupOut):
    members: list[MemberOut]
    """The first page of members, by username."""
    members_next: str | None = Field(default=None, alias="membersNext")
    """The cursor of the next page of members (``GET /groups/{id}/members?cursor=``), null when this was all."""


class AddMemberRequest(_In):
    username: AnyName


class MessagePage(_Out):
    """A page of history, oldest first; ``hasMore`` when older messages exist."""

    messages: list[ChatMessage]
    has_more: bool = Field(alias="hasMore")


# ---------------------------------------------------------------- attachments and search


class UploadRequest(_In):
    name: Annotated[str, StringConstraints(min_length=1, max_length=1000), AfterValidator(encodable)]
    """The file's name as the browser has it (shown cleaned: its last path part, no control characters)."""
    size: int = Field(ge=1, le=MAX_ATTACHMENT_BYTES)
    type: Annotated[str, StringConstraints(min_length=3, max_length=129)]
    """Its media type, for example ``image/png``: S3 stores and serves the file with it."""


class UploadOut(_Out):
    """A presigned POST: send ``fields`` and then the file (as ``file``, last) as multipart/form-data to ``url``."""

    id: str
    url: str
    fields: dict[str, str]
    expires_at: int = Field(alias="expiresAt")
    max_bytes: int = Field(alias="maxBytes")


class DownloadOut(_Out):
    """A short-lived URL of a sent file."""

    url: str
    expires_at: int = Field(alias="expiresAt")
    id: str
    name: str
    size: int
    type: str
    inline: bool
    """An image the browser can preview (``Content-Disposition: inline``); anything else downloads."""


class SearchRoomOut(_Out):
    id: int
    name: str
    kind: Literal["group", "direct"]


class SearchHitOut(_Out):
    room: SearchRoomOut
    message: ChatMessage


class SearchPage(_Out):
    results: list[SearchHitOut]
    next: str | None = None
    """Pass as ``before`` for the next page; absent on the last."""


# ---------------------------------------------------------------- direct chats


class OpenDirectRequest(_In):
    username: AnyName


class DirectOut(_Out):
    id: int
    kind: Literal["direct"] = "direct"
    private: Literal[True] = True
    other: UserBrief


class DirectSummaryOut(_Out):
    id: int
    other: UserBrief
    unread: int
    last_message_id: int | None = Field(alias="lastMessageId")


class DirectPage(_Out):
    """A page of direct chats, most recently active first; ``next`` is the following page's cursor."""

    chats: list[DirectSummaryOut]
    next: str | None = None


# ---------------------------------------------------------------- tags and nicknames


class TagRequest(_In):
    name: TagName


class TagOut(_Out):
    name: str


class TagListOut(_Out):
    """The caller's tags, by name."""

    tags: list[str]


class TagCountOut(_Out):
    name: str
    count: int


class TagCountsOut(_Out):
    """The most used tags across all users, most used first."""

    tags: list[TagCountOut]


class NicknamePage(_Out):
    users: list[UserBrief]
    next_offset: int | None = Field(alias="nextOffset")


# ---------------------------------------------------------------- errors


class FieldError(_Out):
    field: str
    message: str


class ErrorOut(_Out):
    status_code: int = Field(alias="statusCode")
    message: str


class ValidationErrorOut(ErrorOut):
    errors: list[FieldError]


# ---------------------------------------------------------------- conversations (the sidebar)


class LastMessageOut(_Out):
    id: int
    sender: str
    text: str
    """The first 140 characters ("" when deleted)."""
    ts: int
    deleted: bool = False


class ConversationOut(_Out):
    id: int
    kind: Literal["group", "direct"]
    name: str
    """A group's name; for a direct chat, the other user's nickname or username."""
    private: bool
    description: str = ""
    other: UserBrief | None = None
    unread: int
    mentions: int = 0
    """Unread messages that mention the caller (up to 100), counted apart from ``unread``."""
    last_message: LastMessageOut | None = Field(default=None, alias="lastMessage")


class ConversationPage(_Out):
    """The caller's rooms, most recent activity first; ``next`` is the following page's cursor."""

    conversations: list[ConversationOut]
    next: str | None = None
