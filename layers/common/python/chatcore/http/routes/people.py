"""``/nicknames``: people search by username or nickname prefix."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Query

from chatcore.fields import MAX_SEARCH_LENGTH
from chatcore.http.models import NicknamePage, SearchPrefix, UserBrief
from chatcore.http.routing import BEARER, OK, UNAUTHORIZED, area_router, caller, documented, services
from chatcore.service.directory import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE

router = area_router()


@router.get("/nicknames", security=BEARER, responses=documented(OK, UNAUTHORIZED), tags=["nicknames"])
def search_nicknames(
    q: Annotated[SearchPrefix, Query(max_length=MAX_SEARCH_LENGTH, description="Username or nickname prefix")] = "",
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = DEFAULT_PAGE_SIZE,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> NicknamePage:
    """Other users whose username or nickname starts with ``q`` (any case), a page at a time."""
    page = services(router).directory.search(caller(router), q, limit=limit, offset=offset)
    return NicknamePage(
        users=[UserBrief(id=u.id, username=u.username, nickname=u.nickname) for u in page.users],
        next_offset=page.next_offset,
    )
