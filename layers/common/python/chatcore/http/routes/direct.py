"""``/direct``: 1:1 chats."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Query

from chatcore.http.cursors import decode_cursor, encode_cursor
from chatcore.http.models import DirectOut, DirectPage, DirectSummaryOut, OpenDirectRequest, UserBrief
from chatcore.http.routing import BEARER, NOT_FOUND, OK, UNAUTHORIZED, area_router, caller, documented, services
from chatcore.service.rooms import MAX_PAGE_SIZE, PAGE_SIZE

router = area_router()


@router.post("/direct", security=BEARER, responses=documented(OK, UNAUTHORIZED, NOT_FOUND), tags=["direct"])
def open_direct(body: OpenDirectRequest) -> DirectOut:
    """The caller's 1:1 chat with a user, created on first request (the same room from either side)."""
    chat = services(router).rooms.open_direct(caller(router), body.username)
    other = UserBrief(id=chat.other.id, username=chat.other.username, nickname=chat.other.nickname)
    return DirectOut(id=chat.room.id, other=other)


@router.get("/direct", security=BEARER, responses=documented(OK, UNAUTHORIZED), tags=["direct"])
def list_direct(
    cursor: Annotated[str | None, Query(max_length=512, description="``next`` of the previous page")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = PAGE_SIZE,
) -> DirectPage:
    """A page of the caller's direct chats with the other user, most recently active first."""
    after = decode_cursor(cursor, int, int)
    page = services(router).rooms.direct_chats(caller(router), after=after, limit=limit)
    chats = [
        DirectSummaryOut(
            id=d.id,
            other=UserBrief(id=d.other_id, username=d.other_username, nickname=d.other_nickname),
            unread=d.unread,
            last_message_id=d.last_message_id,
        )
        for d in page.items
    ]
    return DirectPage(chats=chats, next=encode_cursor(page.next))
