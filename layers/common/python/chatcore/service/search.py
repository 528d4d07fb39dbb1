"""Message search: words in the messages of the rooms the caller may read."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chatcore.errors import Forbidden, InvalidInput, NotFound
from chatcore.fields import search_words
from chatcore.rows import Page, SearchHit
from chatcore.rules import can_read

if TYPE_CHECKING:
    from chatcore.ports import Store
    from chatcore.tokens import Identity

SEARCH_PAGE_SIZE = 20


class SearchService:
    def __init__(self, store: Store) -> None:
        self._store = store

    def search(
        self,
        caller: Identity,
        query: str,
        *,
        room_id: int | None = None,
        after: tuple[float, int] | None = None,
        limit: int = SEARCH_PAGE_SIZE,
    ) -> Page[SearchHit]:
        """Messages with every word of ``query`` (each as a prefix), best match first, in the caller's rooms
        and public groups (or in ``room_id`` only, if the caller may read it); deleted messages never match."""
        words = search_words(query)
        if not words:
            raise InvalidInput("q", "search for at least one word")
        if room_id is not None:
            room, role = self._store.room_and_role(room_id, caller.user_id)
            if room is None:
                raise NotFound("room not found")
            if not can_read(room, role):
                raise Forbidden("only members can search this room")
        hits, more = self._store.search_messages(
            caller.user_id, words, room_id=room_id, after=after, limit=min(max(limit, 1), SEARCH_PAGE_SIZE)
        )
        return Page(hits, (hits[-1].rank, hits[-1].message.id) if more and hits else None)
