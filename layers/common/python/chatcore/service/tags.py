"""User tags: the caller's own tags and the most used ones across everyone."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chatcore.errors import Conflict, LimitExceeded, NotFound
from chatcore.fields import normalize_tag
from chatcore.rules import Quotas

if TYPE_CHECKING:
    from chatcore.ports import Tags
    from chatcore.rows import TagCount
    from chatcore.tokens import Identity

DEFAULT_TOP_TAGS = 50
MAX_TOP_TAGS = 100


class TagService:
    def __init__(self, store: Tags, quotas: Quotas | None = None) -> None:
        self._store = store
        self._quotas = quotas or Quotas()

    def mine(self, caller: Identity) -> list[str]:
        """The caller's tags, by name."""
        return self._store.list_tags(caller.user_id)

    def most_used(self, limit: int = DEFAULT_TOP_TAGS) -> list[TagCount]:
        """The most used tags across all users with how many use each, most used first."""
        return self._store.top_tags(min(max(limit, 1), MAX_TOP_TAGS))

    def add(self, caller: Identity, name: str) -> str:
        """Tag the caller with ``name`` (already normalised); :class:`Conflict` if it is there already,
        :class:`LimitExceeded` when the caller has the most tags an account may hold."""
        if self._store.count_tags(caller.user_id) >= self._quotas.tags:
            raise LimitExceeded(f"at most {self._quotas.tags} tags", None)
        if not self._store.add_tag(caller.user_id, name):
            raise Conflict("you already have this tag")
        return name

    def remove(self, caller: Identity, raw_name: str) -> None:
        """Drop one of the caller's tags, matched as stored; :class:`NotFound` if the caller lacks it."""
        name = normalize_tag(raw_name)
        if name is None or not self._store.remove_tag(caller.user_id, name):
            raise NotFound("you do not have this tag")
