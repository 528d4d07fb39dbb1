"""``/search``: messages by words, in the rooms the caller may read."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Query

from chatcore.fields import MAX_DB_ID, MAX_QUERY_LENGTH
from chatcore.http.cursors import decode_cursor, encode_cursor
from chatcore.http.models import SearchHitOut, SearchPage, SearchQuery, SearchRoomOut
from chatcore.http.routing import (
    BEARER,
    FORBIDDEN,
    NOT_FOUND,
    OK,
    UNAUTHORIZED,
    area_router,
    caller,
    documented,
    services,
)
from chatcore.service.search import SEARCH_PAGE_SIZE
from chatcore.service.views import message_view

router = area_router()


@router.get("/search", security=BEARER, responses=documented(OK, UNAUTHORIZED, FORBIDDEN, NOT_FOUND), tags=["search"])
def search_messages(
    q: Annotated[SearchQuery, Query(max_length=MAX_QUERY_LENGTH, description="Words; each matches as a prefix")],
    room_id: Annotated[int | None, Query(alias="roomId", ge=1, le=MAX_DB_ID, description="Only this room")] = None,
    before: Annotated[str | None, Query(max_length=512, description="``next`` of the previous page")] = None,
    limit: Annotated[int, Query(ge=1, le=SEARCH_PAGE_SIZE)] = SEARCH_PAGE_SIZE,
) -> SearchPage:
    """Messages containing every word of ``q`` (by prefix, in any language), best match first, from the
    caller's rooms and public groups only; deleted messages never match."""
    after = decode_cursor(before, float, int)
    page = services(router).search.search(caller(router), q, room_id=room_id, after=after, limit=limit)
    return SearchPage(
        results=[
            SearchHitOut(
                room=SearchRoomOut(id=hit.message.room_id, name=hit.room_name, kind=hit.room_kind),
                message=message_view(hit.message),
            )
            for hit in page.items
        ],
        next=encode_cursor(page.next),
    )
