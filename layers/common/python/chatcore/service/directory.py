"""Finding people to chat with: users by username or nickname prefix, a page at a time."""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from chatcore.ports import Users
    from chatcore.rows import PersonRow
    from chatcore.tokens import Identity

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100


class UserPage(NamedTuple):
    users: list[PersonRow]
    next_offset: int | None
    """Where the next page starts, or None when this was the last one."""


class DirectoryService:
    def __init__(self, store: Users) -> None:
        self._store = store

    def search(self, caller: Identity, prefix: str, *, limit: int = DEFAULT_PAGE_SIZE, offset: int = 0) -> UserPage:
        """Users other than the caller whose username or nickname starts with ``prefix`` (any case)."""
        limit = min(max(limit, 1), MAX_PAGE_SIZE)
        # One extra row tells whether another page exists without a count query.
        rows = self._store.search_people(prefix, limit=limit + 1, offset=offset, exclude_user=caller.user_id)
        more = len(rows) > limit
        return UserPage(users=rows[:limit], next_offset=offset + limit if more else None)
