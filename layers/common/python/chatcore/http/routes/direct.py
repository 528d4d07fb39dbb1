"""``/direct``: 1:1 chats."""

from __future__ import annotations

from chatcore.http.models import DirectOut, DirectSummaryOut, OpenDirectRequest, UserBrief
from chatcore.http.routing import BEARER, NOT_FOUND, OK, UNAUTHORIZED, area_router, caller, documented, services

router = area_router()


@router.post("/direct", security=BEARER, responses=documented(OK, UNAUTHORIZED, NOT_FOUND), tags=["direct"])
def open_direct(body: OpenDirectRequest) -> DirectOut:
    """The caller's 1:1 chat with a user, created on first request (the same room from either side)."""
    chat = services(router).rooms.open_direct(caller(router), body.username)
    other = UserBrief(id=chat.other.id, username=chat.other.username, nickname=chat.other.nickname)
    return DirectOut(id=chat.room.id, other=other)


@router.get("/direct", security=BEARER, responses=documented(OK, UNAUTHORIZED), tags=["direct"])
def list_direct() -> list[DirectSummaryOut]:
    """The caller's direct chats with the other user, most recently active first."""
    return [
        DirectSummaryOut(
            id=d.id,
            other=UserBrief(id=d.other_id, username=d.other_username, nickname=d.other_nickname),
            unread=d.unread,
            last_message_id=d.last_message_id,
        )
        for d in services(router).rooms.list_direct(caller(router))
    ]
