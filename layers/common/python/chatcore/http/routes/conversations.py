"""``/conversations``: the sidebar's list of the caller's rooms, most recent activity first."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Query

from chatcore.http.cursors import decode_cursor, encode_cursor
from chatcore.http.models import ConversationPage
from chatcore.http.routing import BEARER, OK, UNAUTHORIZED, area_router, caller, documented, services
from chatcore.http.views import conversation_view
from chatcore.service.rooms import MAX_PAGE_SIZE, PAGE_SIZE

router = area_router()


@router.get("/conversations", security=BEARER, responses=documented(OK, UNAUTHORIZED), tags=["conversations"])
def list_conversations(
    cursor: Annotated[str | None, Query(max_length=512, description="``next`` of the previous page")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = PAGE_SIZE,
) -> ConversationPage:
    """A page of the caller's groups and direct chats, most recent activity first, with unread counts and the
    latest message's preview."""
    after = decode_cursor(cursor, int, int)
    page = services(router).rooms.conversations(caller(router), after=after, limit=limit)
    return ConversationPage(conversations=[conversation_view(c) for c in page.items], next=encode_cursor(page.next))
