"""``/groups``: list and create groups, a group's details, members and history."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Path, Query

from chatcore.fields import DEFAULT_HISTORY_LIMIT, MAX_DB_ID, MAX_HISTORY_LIMIT, MEMBER_PAGE_SIZE
from chatcore.http.cursors import decode_cursor, encode_cursor
from chatcore.http.models import (
    AddMemberRequest,
    CreateGroupRequest,
    GroupDetailOut,
    GroupOut,
    GroupPage,
    MemberOut,
    MemberPage,
    MessagePage,
    OwnerRequest,
    UpdateGroupRequest,
)
from chatcore.http.routing import (
    BEARER,
    CONFLICT,
    CREATED,
    FORBIDDEN,
    NO_CONTENT,
    NOT_FOUND,
    OK,
    UNAUTHORIZED,
    area_router,
    caller,
    created,
    documented,
    no_content,
    services,
)
from chatcore.http.views import group_view, member_view
from chatcore.service.rooms import MAX_PAGE_SIZE, PAGE_SIZE
from chatcore.service.views import message_view

router = area_router()

GroupId = Annotated[int, Path(ge=1, le=MAX_DB_ID, description="Group (room) id")]


Cursor = Annotated[str | None, Query(max_length=512, description="``next`` of the previous page")]
Limit = Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)]


@router.get("/groups", security=BEARER, responses=documented(OK, UNAUTHORIZED), tags=["groups"])
def list_groups(
    mine: Annotated[bool, Query(description="Only the groups the caller belongs to")] = False,
    cursor: Cursor = None,
    limit: Limit = PAGE_SIZE,
) -> GroupPage:
    """A page of public groups and the private groups the caller belongs to, by name (no direct chats)."""
    after = decode_cursor(cursor, str, int)
    page = services(router).rooms.groups(caller(router), mine=mine, after=after, limit=limit)
    return GroupPage(groups=[group_view(g) for g in page.items], next=encode_cursor(page.next))


@router.post("/groups", status_code=201, security=BEARER, responses=documented(CREATED, UNAUTHORIZED), tags=["groups"])
def create_group(body: CreateGroupRequest) -> Response[GroupOut]:
    """Create a group; the caller becomes its owner."""
    return created(group_view(services(router).rooms.create_group(caller(router), body.name, private=body.private)))


@router.get(
    "/groups/<group_id>", security=BEARER, responses=documented(OK, UNAUTHORIZED, FORBIDDEN, NOT_FOUND), tags=["groups"]
)
def get_group(group_id: GroupId) -> GroupDetailOut:
    """A group with its members (members only for a private group or a direct chat)."""
    detail = services(router).rooms.room_detail(caller(router), group_id)
    return GroupDetailOut(
        **group_view(detail.room).model_dump(),
        members=[member_view(m) for m in detail.members.items],
        members_next=encode_cursor(detail.members.next),
    )


@router.get(
    "/groups/<group_id>/members",
    security=BEARER,
    responses=documented(OK, UNAUTHORIZED, FORBIDDEN, NOT_FOUND),
    tags=["groups"],
)
def list_members(group_id: GroupId, cursor: Cursor = None, limit: Limit = MEMBER_PAGE_SIZE) -> MemberPage:
    """A page of a group's members by username (members only for a private group or a direct chat)."""
    after = decode_cursor(cursor, str)
    page = services(router).rooms.members(caller(router), group_id, after=after[0] if after else None, limit=limit)
    return MemberPage(members=[member_view(m) for m in page.items], next=encode_cursor(page.next))


@router.post(
    "/groups/<group_id>/members",
    status_code=201,
    security=BEARER,
    responses=documented(CREATED, UNAUTHORIZED, FORBIDDEN, NOT_FOUND, CONFLICT),
    tags=["groups"],
)
def add_member(group_id: GroupId, body: AddMemberRequest) -> Response[MemberOut]:
    """The owner adds a user to the group."""
    return created(member_view(services(router).rooms.add_member(caller(router), group_id, body.username)))


@router.delete(
    "/groups/<group_id>/members/<username>",
    status_code=204,
    security=BEARER,
    responses=documented(NO_CONTENT, UNAUTHORIZED, FORBIDDEN, NOT_FOUND),
    tags=["groups"],
)
def remove_member(group_id: GroupId, username: str) -> Response[None]:
    """The owner removes a member, or a member removes himself (leaves)."""
    services(router).rooms.remove_member(caller(router), group_id, username)
    return no_content()


@router.get(
    "/groups/<group_id>/messages",
    security=BEARER,
    responses=documented(OK, UNAUTHORIZED, FORBIDDEN, NOT_FOUND),
    tags=["groups"],
)
def group_messages(
    group_id: GroupId,
    before: Annotated[int | None, Query(ge=1, le=MAX_DB_ID, description="Only messages with a smaller id")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_HISTORY_LIMIT)] = DEFAULT_HISTORY_LIMIT,
) -> MessagePage:
    """A page of history, oldest first; page back with ``before`` = the first id of this page."""
    page = services(router).rooms.history(caller(router), group_id, before=before, limit=limit)
    return MessagePage(messages=[message_view(m) for m in page.messages], has_more=page.has_more)


@router.patch(
    "/groups/<group_id>", security=BEARER, responses=documented(OK, UNAUTHORIZED, FORBIDDEN, NOT_FOUND), tags=["groups"]
)
def update_group(group_id: GroupId, body: UpdateGroupRequest) -> GroupOut:
    """The owner renames the group or changes its description; members' pages show it at once."""
    identity = caller(router)
    rooms = services(router).rooms
    rooms.update_group(identity, group_id, name=body.name, description=body.description)
    return group_view(rooms.room_detail(identity, group_id).room)


@router.delete(
    "/groups/<group_id>",
    status_code=204,
    security=BEARER,
    responses=documented(NO_CONTENT, UNAUTHORIZED, FORBIDDEN, NOT_FOUND),
    tags=["groups"],
)
def delete_group(group_id: GroupId) -> Response[None]:
    """The owner deletes the group with its messages; members' pages are told."""
    services(router).rooms.delete_group(caller(router), group_id)
    return no_content()


@router.post(
    "/groups/<group_id>/owner",
    status_code=204,
    security=BEARER,
    responses=documented(NO_CONTENT, UNAUTHORIZED, FORBIDDEN, NOT_FOUND, CONFLICT),
    tags=["groups"],
)
def hand_over(group_id: GroupId, body: OwnerRequest) -> Response[None]:
    """The owner makes another member the owner (and stays a member)."""
    services(router).rooms.hand_over(caller(router), group_id, body.username)
    return no_content()
