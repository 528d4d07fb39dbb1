"""The values every interface accepts -- names, texts, ids -- with their limits, stated once.

The WebSocket protocol (:mod:`chatcore.protocol`), the REST models (:mod:`chatcore.http.models`) and the
services use these types and constants; nothing else restates a pattern or a limit.
"""

# Not `from __future__ import annotations`: pydantic would then evaluate each annotation's string when a model
# class is created; real annotations cost a cold start less (about 2 ms for the frame models).
import re
import unicodedata
from functools import cache
from importlib import resources
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
MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 128
MIN_PASSWORD_DISTINCT_CHARACTERS = 5
"""A new password needs this many different characters: "aaaaaaaaaa", ten spaces or "ababababab" are refused."""
COMMON_PASSWORDS_FILE = "common_passwords.txt"
"""The most common passwords (zxcvbn's list; its header says where from), refused for new passwords."""
MAX_COMBINING_RUN = 4
"""Most combining marks in a row in a display name: enough for Vietnamese, Indic vowel signs, Tibetan stacks
and emoji (a keycap is two), not for "Zalgo" text that spills over the lines around it."""
MAX_ROOM_NAME_LENGTH = 80
MAX_NICKNAME_LENGTH = 40
MAX_AVATAR_URL_LENGTH = 2048
MAX_SEARCH_LENGTH = 64
MAX_QUERY_LENGTH = 200
"""A message search's ``q``."""
MAX_QUERY_WORDS = 8
MAX_TAG_LENGTH = 32

REACTIONS = ("👍", "👎", "❤️", "😂", "😮", "😢", "🎉", "🙏", "👀", "🔥", "✅", "❌")
"""The reactions a message can get: a bounded set, so a message's reactions always fit in a frame."""

MAX_ATTACHMENTS = 10
"""Files one message may carry."""
MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024
"""The largest file: S3 refuses a bigger upload (the presigned POST's content-length-range)."""
MAX_FILE_NAME_LENGTH = 200
REPLY_PREVIEW_LENGTH = 200
"""How much of the original a reply quotes."""

PREVIEW_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp", "image/avif"})
"""Images shown inline: raster formats only (an SVG can carry script, so it is a download like any file)."""
_CONTENT_TYPE_RE = re.compile(r"[a-z0-9][a-z0-9!#$&^_.+-]{0,63}/[a-z0-9][a-z0-9!#$&^_.+-]{0,63}")


def is_content_type(value: str) -> bool:
    """A bare media type (``type/subtype``, no parameters), as an upload declares it."""
    return _CONTENT_TYPE_RE.fullmatch(value.lower()) is not None


def is_previewable(content_type: str) -> bool:
    return content_type.lower() in PREVIEW_TYPES


def clean_file_name(name: str) -> str:
    """A file's name as shown: its last path part, NFC, no control or format characters, at most 200 characters."""
    base = re.split(r"[/\\]", unicodedata.normalize("NFC", name))[-1]
    kept = "".join(c for c in base if unicodedata.category(c)[0] != "C").strip().strip(".")
    return kept[:MAX_FILE_NAME_LENGTH]


def search_words(query: str) -> list[str]:
    """The words of a message search, lower-cased: runs of letters and digits in any script (at most 8)."""
    words = re.findall(r"[^\W_]+", unicodedata.normalize("NFC", query).lower())
    return list(dict.fromkeys(words))[:MAX_QUERY_WORDS]


MENTION_RE = re.compile(r"(?<![\w@])@([A-Za-z0-9_.-]{3,32})")
"""``@username`` in message text: not inside a word or an e-mail address."""


def mentioned_usernames(text: str) -> set[str]:
    """The usernames written as ``@username`` in ``text``, lower-cased (usernames are unique in any case)."""
    return {match.group(1).rstrip(".").lower() for match in MENTION_RE.finditer(text)}


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
    """Text shown to other users (an email, a URL): encodable, with no ASCII control characters."""
    encodable(value)
    if _CONTROL_CHARACTERS.search(value):
        raise ValueError("must not contain control characters")
    return value


_JOINERS = frozenset("\u200c\u200d")
"""Zero-width non-joiner and joiner: format characters that scripts (Persian, Indic) and emoji sequences need."""
_INVISIBLE_LETTERS = frozenset("\u115f\u1160\u3164\uffa0")
"""Hangul fillers: letters by category, but blank, so a name made of them shows as nothing."""


def _is_format(char: str) -> bool:
    return unicodedata.category(char) in ("Cc", "Cf")


def display_name(value: str) -> str:
    """A name other users see beside your messages (a nickname, a group name), refused when it could hide
    or disguise text: encodable; no control characters (Unicode Cc, C0 and C1 alike), line or paragraph
    separators, or format characters (Cf: bidi overrides and isolates, zero-width space, soft hyphen, tag
    characters), except a zero-width (non-)joiner between two other characters; no Hangul fillers; at most
    :data:`MAX_COMBINING_RUN` combining marks in a row."""
    encodable(value)
    combining = 0
    for index, char in enumerate(value):
        category = unicodedata.category(char)
        if category == "Cc":
            raise ValueError("must not contain control characters")
        if category in ("Zl", "Zp"):
            raise ValueError("must not contain line breaks")
        if category == "Cf":
            between_characters = 0 < index < len(value) - 1
            if not (
                char in _JOINERS
                and between_characters
                and not _is_format(value[index - 1])
                and not _is_format(value[index + 1])
            ):
                raise ValueError(
                    "must not contain invisible formatting characters (bidi controls, zero-width characters)"
                )
            continue  # a joiner neither starts nor ends a run of combining marks
        if char in _INVISIBLE_LETTERS:
            raise ValueError("must not contain blank filler characters")
        if category.startswith("M"):
            combining += 1
            if combining > MAX_COMBINING_RUN:
                raise ValueError(f"must not stack more than {MAX_COMBINING_RUN} combining marks on one character")
        else:
            combining = 0
    return value


def fold_name(name: str) -> str:
    """The form in which two names are the same name: NFKC(casefold(NFKC(name))), zero-width joiners dropped.

    "Alice", "ALICE", full-width "alice" (U+FF41...) and "al" U+200D "ice" all fold to "alice", and the
    Kelvin sign (U+212A) folds like the K of "kate". Usernames, nicknames and the login throttle compare
    names so. (Look-alikes from other scripts, such as Cyrillic U+0430 for Latin "a", do not fold together:
    the UI shows the @username beside every display name for that.)
    """
    folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", name).casefold())
    return folded.replace("\u200c", "").replace("\u200d", "")


@cache
def _common_passwords() -> frozenset[str]:
    text = (resources.files("chatcore") / COMMON_PASSWORDS_FILE).read_text(encoding="utf-8")
    return frozenset(line for line in text.splitlines() if line and not line.startswith("#"))


def is_common_password(password: str) -> bool:
    """Whether ``password`` is on the shipped list, in any letter case and with or without its spaces."""
    folded = password.casefold()
    common = _common_passwords()
    return folded in common or "".join(folded.split()) in common


def acceptable_password(value: str) -> str:
    """A new password: encodable, at least :data:`MIN_PASSWORD_DISTINCT_CHARACTERS` different characters, and
    not one of the most common passwords (its length is checked by the type)."""
    encodable(value)
    if len(set(value)) < MIN_PASSWORD_DISTINCT_CHARACTERS:
        raise ValueError(f"must contain at least {MIN_PASSWORD_DISTINCT_CHARACTERS} different characters")
    if is_common_password(value):
        raise ValueError("is one of the most common passwords; choose one that is harder to guess")
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

NewPassword = Annotated[
    str,
    StringConstraints(min_length=MIN_PASSWORD_LENGTH, max_length=MAX_PASSWORD_LENGTH),
    AfterValidator(acceptable_password),
]
"""A password chosen at registration: 10 to 128 characters of any kind (spaces and non-ASCII included), at
least 5 different ones, and not among the most common passwords."""

Nickname = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_NICKNAME_LENGTH),
    AfterValidator(display_name),
]
"""A nickname as stored: trimmed, 1 to 40 characters, a :func:`display_name`."""

GroupName = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_ROOM_NAME_LENGTH),
    AfterValidator(display_name),
]
"""A group name as stored: trimmed, 1 to 80 characters, a :func:`display_name`."""

TagName = Annotated[
    str,
    StringConstraints(strip_whitespace=True, to_lower=True, min_length=1, max_length=MAX_TAG_LENGTH),
    AfterValidator(_tag_characters),
]
"""A tag as stored: trimmed, lower-cased, 1 to 32 characters."""


@cache
def _tag_name() -> TypeAdapter[str]:
    """Built on first use: only the REST function's tag routes need it (about 1 ms of every cold start)."""
    return TypeAdapter(TagName)


def normalize_tag(raw: str) -> str | None:
    """The stored form of ``raw`` (trimmed, lower-cased), or None when it cannot be a tag."""
    try:
        return _tag_name().validate_python(raw)
    except ValidationError:
        return None


def valid_username(name: str) -> bool:
    """Whether ``name`` could be somebody's username (so impossible names are never looked up)."""
    return USERNAME_RE.fullmatch(name) is not None
