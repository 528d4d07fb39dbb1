"""The values every interface accepts -- names, texts, ids -- with their limits, stated once.

The WebSocket protocol (:mod:`chatcore.protocol`), the REST models (:mod:`chatcore.http.models`) and the
services use these types and constants; nothing else restates a pattern or a limit.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator, Field, StringConstraints, TypeAdapter, ValidationError

# ---------------------------------------------------------------- limits

MAX_FRAME_BYTES = 128 * 1024
"""API Gateway refuses WebSocket frames (and Management API posts) over 128 KB."""

MAX_POST_BYTES = 128_000
"""What every frame the server sends must fit in: 128 KB read as the smaller 128,000 bytes, since API
Gateway's quota page does not say which it means and a post over the limit is dropped without a trace."""

MEMBER_PAGE_SIZE = 100
"""Members per page of ``joined`` and ``list`` (fewer when their encoded size demands)."""

MAX_TEXT_LENGTH = 4000
"""Longest message text accepted, in characters; longer text gets ``message_too_long``."""

MAX_CLIENT_MSG_ID_LENGTH = 64
DEFAULT_HISTORY_LIMIT = 50
MAX_HISTORY_LIMIT = 200
MAX_DB_ID = 2**63 - 1
"""PostgreSQL's bigint: the largest id of any row."""

USERNAME_PATTERN = r"^[A-Za-z0-9_.-]{3,32}$"
USERNAME_RE = re.compile(USERNAME_PATTERN)
MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 128
MAX_ROOM_NAME_LENGTH = 80
MAX_NICKNAME_LENGTH = 40
MAX_AVATAR_URL_LENGTH = 2048
MAX_SEARCH_LENGTH = 64
MAX_TAG_LENGTH = 32

PROFILE_FIELDS = frozenset({"nickname", "avatar", "email"})
"""The profile fields a user may change; the store writes no other column."""


# ---------------------------------------------------------------- validators


def _not_bool(value: object) -> object:
    # JSON true/false are not ids, though Python's bool is an int.
    if isinstance(value, bool):
        raise ValueError("must be an integer, not a boolean")
    return value


def encodable(value: str) -> str:
    """Text PostgreSQL can store: no NUL, and no lone surrogate (which UTF-8 cannot encode)."""
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("must be valid Unicode text") from None
    return value


def storable(value: str) -> str:
    """Message text: encodable and not blank."""
    if not value.strip():
        raise ValueError("must not be blank")
    return encodable(value)


_CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]")


def printable(value: str) -> str:
    """A name shown to other users: encodable, with no control characters."""
    encodable(value)
    if _CONTROL_CHARACTERS.search(value):
        raise ValueError("must not contain control characters")
    return value


# A tag is addressed by name in a URL path (DELETE /tags/{name}); API Gateway decodes the path and
# cannot route an encoded "/", and a decoded "?" or "#" would cut the path short, so those are refused.
_FORBIDDEN_IN_TAG = re.compile(r"[\x00-\x1f\x7f/?#%\\]")


def _tag_characters(value: str) -> str:
    if _FORBIDDEN_IN_TAG.search(value):
        raise ValueError("must not contain control characters or any of / ? # % \\")
    return encodable(value)


# ---------------------------------------------------------------- types

Id = Annotated[int, BeforeValidator(_not_bool), Field(ge=1, le=MAX_DB_ID)]
"""A row id (rooms, users)."""

MessageId = Annotated[int, BeforeValidator(_not_bool), Field(ge=0, le=MAX_DB_ID)]
"""A message id, or 0 for "before the first message"."""

Count = Annotated[int, BeforeValidator(_not_bool)]

StorableText = Annotated[str, AfterValidator(storable)]
EncodableText = Annotated[str, AfterValidator(encodable)]
PrintableText = Annotated[str, AfterValidator(printable)]

TagName = Annotated[
    str,
    StringConstraints(strip_whitespace=True, to_lower=True, min_length=1, max_length=MAX_TAG_LENGTH),
    AfterValidator(_tag_characters),
]
"""A tag as stored: trimmed, lower-cased, 1 to 32 characters."""

_tag_name: TypeAdapter[str] = TypeAdapter(TagName)


def normalize_tag(raw: str) -> str | None:
    """The stored form of ``raw`` (trimmed, lower-cased), or None when it cannot be a tag."""
    try:
        return _tag_name.validate_python(raw)
    except ValidationError:
        return None


def valid_username(name: str) -> bool:
    """Whether ``name`` could be somebody's username (so impossible names are never looked up)."""
    return USERNAME_RE.fullmatch(name) is not None
