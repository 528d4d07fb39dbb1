"""``/tags``: the caller's tags and the most used ones."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Query

from chatcore.http.models import TagCountOut, TagCountsOut, TagListOut, TagOut, TagRequest
from chatcore.http.routing import (
    BEARER,
    CONFLICT,
    CREATED,
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
from chatcore.service.tags import DEFAULT_TOP_TAGS, MAX_TOP_TAGS

router = area_router()


@router.get("/tags", security=BEARER, responses=documented(OK, UNAUTHORIZED), tags=["tags"])
def list_tags(
    include_all: Annotated[bool, Query(alias="all", description="Most used tags of everyone, with counts")] = False,
    limit: Annotated[int, Query(ge=1, le=MAX_TOP_TAGS, description="With all=1: how many tags")] = DEFAULT_TOP_TAGS,
) -> TagListOut | TagCountsOut:
    """The caller's tags, or with ``all=1`` the most used tags with their counts."""
    identity = caller(router)
    tags = services(router).tags
    if include_all:
        return TagCountsOut(tags=[TagCountOut(name=t.tag_name, count=t.uses) for t in tags.most_used(limit)])
    return TagListOut(tags=tags.mine(identity))


@router.post(
    "/tags", status_code=201, security=BEARER, responses=documented(CREATED, UNAUTHORIZED, CONFLICT), tags=["tags"]
)
def add_tag(body: TagRequest) -> Response[TagOut]:
    """Tag the caller (names are trimmed and lower-cased)."""
    return created(TagOut(name=services(router).tags.add(caller(router), body.name)))


@router.delete(
    "/tags/<name>",
    status_code=204,
    security=BEARER,
    responses=documented(NO_CONTENT, UNAUTHORIZED, NOT_FOUND),
    tags=["tags"],
)
def remove_tag(name: str) -> Response[None]:
    """Drop one of the caller's tags."""
    services(router).tags.remove(caller(router), name)
    return no_content()
