"""User tags: the caller's own tags and the most used ones across everyone."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, StringConstraints, TypeAdapter, ValidationError

from chatcore.auth import Identity
from chatcore.errors import Conflict, NotFound
from chatcore.store import ChatStore, TagCount

MAX_TAG_LENGTH = 32
DEFAULT_TOP_TAGS = 50
MAX_TOP_TAGS = 100

# A tag is addressed by name in a URL path (DELETE /tags/{name}); API Gateway decodes the path and
# cannot route an encoded "/", and a decoded "?" or "#" would cut the path short, so those are refused.
_FORBIDDEN_IN_TAG = re.compile(r"[\x00-\x1f\x7f/?#%\\]")


def _tag_characters(value: str) -> str:
    if _FORBIDDEN_IN_TAG.search(value):
        raise ValueError("must not contain control characters or any of / ? # % \\")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("must be valid Unicode text") from None
    return value


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


class TagService:
    def __init__(self, store: ChatStore) -> None:
        self._store = store

    def mine(self, caller: Identity) -> list[str]:
        """The caller's tags, by name."""
        return self._store.list_tags(caller.user_id)

    def most_used(self, limit: int = DEFAULT_TOP_TAGS) -> list[TagCount]:
        """The most used tags across all users with how many use each, most used first."""
        return self._store.top_tags(min(max(limit, 1), MAX_TOP_TAGS))

    def add(self, caller: Identity, name: str) -> str:
        """Tag the caller with ``name`` (already normalised); :class:`Conflict` if it is there already."""
        if not self._store.add_tag(caller.user_id, name):
            raise Conflict("you already have this tag")
        return name

    def remove(self, caller: Identity, raw_name: str) -> None:
        """Drop one of the caller's tags, matched as stored; :class:`NotFound` if the caller lacks it."""
        name = normalize_tag(raw_name)
        if name is None or not self._store.remove_tag(caller.user_id, name):
            raise NotFound("you do not have this tag")
