"""The HTTP API: auth, profile, groups, direct chats, tags and nicknames, over Powertools' resolver.

Each route validates its input (pydantic models and typed parameters), makes one call into the layer's
services and shapes the answer. Domain errors become HTTP responses in one place, at the bottom.
``functions/rest/handler.py`` imports this module on its first invocation, not at import: building the
resolver and its OpenAPI models is most of the function's cold start.
"""

from __future__ import annotations

from dataclasses import dataclass
from http import HTTPStatus
from typing import TYPE_CHECKING, Annotated, Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.openapi.exceptions import (
    RequestUnsupportedContentType,
    RequestValidationError,
    ValidationException,
)
from aws_lambda_powertools.event_handler.openapi.models import HTTPBearer
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse

from chatcore.chat import message_view
from chatcore.directory import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE
from chatcore.errors import (
    ChatError,
    Conflict,
    Forbidden,
    NotFound,
    StoreUnavailable,
    TooManyAttempts,
    Unauthorized,
)
from chatcore.observability import logger
from chatcore.protocol import DEFAULT_HISTORY_LIMIT, MAX_DB_ID, MAX_HISTORY_LIMIT
from chatcore.rest_models import (
    MAX_SEARCH_LENGTH,
    AddMemberRequest,
    AuthResponse,
    CreateGroupRequest,
    DirectOut,
    DirectSummaryOut,
    ErrorOut,
    GroupDetailOut,
    GroupOut,
    LoginRequest,
    MemberOut,
    MessagePage,
    NicknamePage,
    OpenDirectRequest,
    ProfileOut,
    ProfileUpdate,
    RegisterRequest,
    SearchPrefix,
    TagCountOut,
    TagCountsOut,
    TagListOut,
    TagOut,
    TagRequest,
    UserBrief,
    UserOut,
    ValidationErrorOut,
)
from chatcore.rooms import InvalidInput
from chatcore.tags import DEFAULT_TOP_TAGS, MAX_TOP_TAGS

if TYPE_CHECKING:
    from chatcore.accounts import AccountService, Session
    from chatcore.auth import Identity
    from chatcore.directory import DirectoryService
    from chatcore.profiles import ProfileService
    from chatcore.rooms import RoomService
    from chatcore.store import GroupSummary, MemberRow, UserRow
    from chatcore.tags import TagService

app = APIGatewayHttpResolver(enable_validation=True)

GroupId = Annotated[int, Path(ge=1, le=MAX_DB_ID, description="Group (room) id")]
PUBLIC_PATHS = frozenset({"/auth/register", "/auth/login", "/openapi.json"})
"""Routes that need no bearer token; every other route answers 401 without one."""


@dataclass(frozen=True)
class Services:
    accounts: AccountService
    profiles: ProfileService
    rooms: RoomService
    tags: TagService
    directory: DirectoryService


def build_services() -> Services:
    """The layer's services wired from the environment; the handler builds them once per container."""
    from chatcore.accounts import AccountService
    from chatcore.directory import DirectoryService
    from chatcore.profiles import ProfileService
    from chatcore.rooms import RegistrySubscriptions, RoomService
    from chatcore.runtime import Settings, build_registry, build_store, build_tokens
    from chatcore.tags import TagService

    settings = Settings.from_env()
    store = build_store(settings)
    # With the connections table configured, a removed member's open WebSockets leave the room at once.
    subscriptions = RegistrySubscriptions(lambda: build_registry(settings)) if settings.connections_table else None
    return Services(
        accounts=AccountService(store, build_tokens(settings)),
        profiles=ProfileService(store),
        rooms=RoomService(store, subscriptions),
        tags=TagService(store),
        directory=DirectoryService(store),
    )


def services() -> Services:
    """The services the handler passed in for this invocation (``app.append_context(services=...)``)."""
    return app.context["services"]  # type: ignore[no-any-return]


def caller() -> Identity:
    """The identity of the ``Authorization: Bearer`` token of the current request."""
    return services().accounts.authenticate(app.current_event.headers.get("authorization"))


# ---------------------------------------------------------------- views


def _profile_view(user: UserRow) -> ProfileOut:
    return ProfileOut(
        id=user.id,
        username=user.username,
        nickname=user.nickname,
        avatar=user.avatar,
        email=user.email,
        created_at=user.created_at,
    )


def _session_view(session: Session) -> AuthResponse:
    return AuthResponse(token=session.token, expires_in=session.expires_in, user=_profile_view(session.user))


def _group_view(group: GroupSummary) -> GroupOut:
    return GroupOut(
        id=group.id,
        name=group.name,
        private=group.private,
        kind=group.kind,
        created_at=group.created_at,
        member_count=group.member_count,
        is_member=group.role is not None,
        role=group.role,
        unread=group.unread,
    )


def _member_view(member: MemberRow) -> MemberOut:
    return MemberOut(id=member.id, username=member.username, nickname=member.nickname, role=member.role)


def _created(body: Any) -> Response[Any]:
    return Response(HTTPStatus.CREATED, content_types.APPLICATION_JSON, body)


def _no_content() -> Response[None]:
    return Response(HTTPStatus.NO_CONTENT, None, None)


def _responses(success: HTTPStatus, *errors: HTTPStatus) -> dict[int, OpenAPIResponse]:
    """OpenAPI entries: the success answer (the route's return model) and the errors it can give."""
    documented: dict[int, OpenAPIResponse] = {
        # Without "content" Powertools documents the route's return model; a 204 has no body.
        int(success): {"description": success.phrase, **({"content": {}} if success == HTTPStatus.NO_CONTENT else {})},
        422: {
            "description": "Invalid request, with one entry per invalid field",
            "content": {content_types.APPLICATION_JSON: {"model": ValidationErrorOut}},
        },
    }
    for status in errors:
        documented[int(status)] = {
            "description": status.phrase,
            "content": {content_types.APPLICATION_JSON: {"model": ErrorOut}},
        }
    return documented


_AUTH: list[dict[str, list[str]]] = [{"bearerAuth": []}]
_200, _201, _204 = HTTPStatus.OK, HTTPStatus.CREATED, HTTPStatus.NO_CONTENT
_401, _403, _404, _409 = HTTPStatus.UNAUTHORIZED, HTTPStatus.FORBIDDEN, HTTPStatus.NOT_FOUND, HTTPStatus.CONFLICT


# ---------------------------------------------------------------- auth


@app.post("/auth/register", status_code=201, responses=_responses(_201, _409), tags=["auth"])
def register(body: RegisterRequest) -> Response[AuthResponse]:
    """Create an account and sign in."""
    session = services().accounts.register(body.username, body.password, email=body.email, nickname=body.nickname)
    return _created(_session_view(session))


@app.post("/auth/login", responses=_responses(_200, _401), tags=["auth"])
def login(body: LoginRequest) -> AuthResponse:
    """Sign in; the same 401 for an unknown user or a wrong password."""
    source_ip = app.current_event.request_context.http.source_ip
    return _session_view(services().accounts.login(body.username, body.password, source_ip))


# ---------------------------------------------------------------- profiles


@app.get("/profile", security=_AUTH, responses=_responses(_200, _401), tags=["profile"])
def get_profile() -> ProfileOut:
    """The caller's profile."""
    return _profile_view(services().profiles.own(caller()))


@app.patch("/profile", security=_AUTH, responses=_responses(_200, _401), tags=["profile"])
def update_profile(body: ProfileUpdate) -> ProfileOut:
    """Change nickname, avatar or email; a field left out stays, ``null`` clears it."""
    identity = caller()
    changes = {name: getattr(body, name) for name in body.model_fields_set}
    return _profile_view(services().profiles.update(identity, changes))


@app.get("/users/<username>", security=_AUTH, responses=_responses(_200, _401, _404), tags=["profile"])
def get_user(username: str) -> UserOut:
    """Another user's public profile."""
    caller()  # only signed-in users look people up
    user = services().profiles.by_username(username)
    return UserOut(id=user.id, username=user.username, nickname=user.nickname, avatar=user.avatar)


# ---------------------------------------------------------------- groups


@app.get("/groups", security=_AUTH, responses=_responses(_200, _401), tags=["groups"])
def list_groups() -> list[GroupOut]:
    """Public groups and the private groups the caller belongs to (no direct chats)."""
    return [_group_view(g) for g in services().rooms.list_groups(caller())]


@app.post("/groups", status_code=201, security=_AUTH, responses=_responses(_201, _401), tags=["groups"])
def create_group(body: CreateGroupRequest) -> Response[GroupOut]:
    """Create a group; the caller becomes its owner."""
    return _created(_group_view(services().rooms.create_group(caller(), body.name, private=body.private)))


@app.get("/groups/<group_id>", security=_AUTH, responses=_responses(_200, _401, _403, _404), tags=["groups"])
def get_group(group_id: GroupId) -> GroupDetailOut:
    """A group with its members (members only for a private group or a direct chat)."""
    detail = services().rooms.group_detail(caller(), group_id)
    return GroupDetailOut(
        **_group_view(detail.group).model_dump(),
        members=[_member_view(m) for m in detail.members],
    )


@app.post(
    "/groups/<group_id>/members",
    status_code=201,
    security=_AUTH,
    responses=_responses(_201, _401, _403, _404, _409),
    tags=["groups"],
)
def add_member(group_id: GroupId, body: AddMemberRequest) -> Response[MemberOut]:
    """The owner adds a user to the group."""
    return _created(_member_view(services().rooms.add_member(caller(), group_id, body.username)))


@app.delete(
    "/groups/<group_id>/members/<username>",
    status_code=204,
    security=_AUTH,
    responses=_responses(_204, _401, _403, _404),
    tags=["groups"],
)
def remove_member(group_id: GroupId, username: str) -> Response[None]:
    """The owner removes a member, or a member removes himself (leaves)."""
    services().rooms.remove_member(caller(), group_id, username)
    return _no_content()


@app.get("/groups/<group_id>/messages", security=_AUTH, responses=_responses(_200, _401, _403, _404), tags=["groups"])
def group_messages(
    group_id: GroupId,
    before: Annotated[int | None, Query(ge=1, le=MAX_DB_ID, description="Only messages with a smaller id")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_HISTORY_LIMIT)] = DEFAULT_HISTORY_LIMIT,
) -> MessagePage:
    """A page of history, oldest first; page back with ``before`` = the first id of this page."""
    page = services().rooms.history(caller(), group_id, before=before, limit=limit)
    return MessagePage(messages=[message_view(m) for m in page.messages], has_more=page.has_more)


# ---------------------------------------------------------------- direct chats


@app.post("/direct", security=_AUTH, responses=_responses(_200, _401, _404), tags=["direct"])
def open_direct(body: OpenDirectRequest) -> DirectOut:
    """The caller's 1:1 chat with a user, created on first request (the same room from either side)."""
    chat = services().rooms.open_direct(caller(), body.username)
    other = UserBrief(id=chat.other.id, username=chat.other.username, nickname=chat.other.nickname)
    return DirectOut(id=chat.room.id, other=other)


@app.get("/direct", security=_AUTH, responses=_responses(_200, _401), tags=["direct"])
def list_direct() -> list[DirectSummaryOut]:
    """The caller's direct chats with the other user, most recently active first."""
    return [
        DirectSummaryOut(
            id=d.id,
            other=UserBrief(id=d.other_id, username=d.other_username, nickname=d.other_nickname),
            unread=d.unread,
            last_message_id=d.last_message_id,
        )
        for d in services().rooms.list_direct(caller())
    ]


# ---------------------------------------------------------------- tags and nicknames


@app.get("/tags", security=_AUTH, responses=_responses(_200, _401), tags=["tags"])
def list_tags(
    include_all: Annotated[bool, Query(alias="all", description="Most used tags of everyone, with counts")] = False,
    limit: Annotated[int, Query(ge=1, le=MAX_TOP_TAGS, description="With all=1: how many tags")] = DEFAULT_TOP_TAGS,
) -> TagListOut | TagCountsOut:
    """The caller's tags, or with ``all=1`` the most used tags with their counts."""
    identity = caller()
    if include_all:
        return TagCountsOut(
            tags=[TagCountOut(name=t.tag_name, count=t.count) for t in services().tags.most_used(limit)]
        )
    return TagListOut(tags=services().tags.mine(identity))


@app.post("/tags", status_code=201, security=_AUTH, responses=_responses(_201, _401, _409), tags=["tags"])
def add_tag(body: TagRequest) -> Response[TagOut]:
    """Tag the caller (names are trimmed and lower-cased)."""
    return _created(TagOut(name=services().tags.add(caller(), body.name)))


@app.delete("/tags/<name>", status_code=204, security=_AUTH, responses=_responses(_204, _401, _404), tags=["tags"])
def remove_tag(name: str) -> Response[None]:
    """Drop one of the caller's tags."""
    services().tags.remove(caller(), name)
    return _no_content()


@app.get("/nicknames", security=_AUTH, responses=_responses(_200, _401), tags=["nicknames"])
def search_nicknames(
    q: Annotated[SearchPrefix, Query(max_length=MAX_SEARCH_LENGTH, description="Username or nickname prefix")] = "",
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = DEFAULT_PAGE_SIZE,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> NicknamePage:
    """Other users whose username or nickname starts with ``q`` (any case), a page at a time."""
    page = services().directory.search(caller(), q, limit=limit, offset=offset)
    return NicknamePage(
        users=[UserBrief(id=u.id, username=u.username, nickname=u.nickname) for u in page.users],
        next_offset=page.next_offset,
    )


# ---------------------------------------------------------------- the OpenAPI document


def openapi_document() -> str:
    return app.get_openapi_json_schema(
        title="Chat API",
        version="1",
        description="REST side of the serverless chat. Every route but auth needs `Authorization: Bearer <token>`.",
        security_schemes={"bearerAuth": HTTPBearer(bearerFormat="JWT")},
    )


@app.get("/openapi.json", include_in_schema=False)
def openapi() -> Response[str]:
    return Response(HTTPStatus.OK, content_types.APPLICATION_JSON, openapi_document())


# ---------------------------------------------------------------- errors: the one place they become HTTP


def _error(status: HTTPStatus, message: str) -> Response[dict[str, Any]]:
    return Response(status, content_types.APPLICATION_JSON, {"statusCode": int(status), "message": message})


def _invalid(errors: list[dict[str, str]]) -> Response[dict[str, Any]]:
    body = ValidationErrorOut.model_validate({"statusCode": 422, "message": "Invalid request", "errors": errors})
    return Response(HTTPStatus.UNPROCESSABLE_ENTITY, content_types.APPLICATION_JSON, body.model_dump(by_alias=True))


def _credentials_problem() -> Response[dict[str, Any]] | None:
    """The 401 (or 503) a protected route gives before anything else, or None when the caller is fine.

    Powertools validates the request before the route runs, so a 422 handler asks this first: an anonymous
    request with a bad body learns only that it needs credentials.
    """
    if app.current_event.path in PUBLIC_PATHS:
        return None
    try:
        caller()
    except ChatError as exc:
        return domain_error(exc)
    return None


def validation_failed(exc: ValidationException) -> Response[dict[str, Any]]:
    if (problem := _credentials_problem()) is not None:
        return problem
    details = [
        {
            "field": ".".join(str(p) for p in err.get("loc", ())[1:]) or str(next(iter(err.get("loc", ())), "body")),
            "message": str(err.get("msg", "invalid value")),
        }
        for err in exc.errors()
    ]
    return _invalid(details)


def invalid_input(exc: InvalidInput) -> Response[dict[str, Any]]:
    return _invalid([{"field": exc.field, "message": exc.message}])


def unreadable_body(exc: UnicodeDecodeError | RecursionError) -> Response[dict[str, Any]]:
    # Raised while Powertools decodes the body: bytes that are not UTF-8, or JSON nested too deep.
    if (problem := _credentials_problem()) is not None:
        return problem
    return _invalid([{"field": "body", "message": "body must be UTF-8 JSON of reasonable depth"}])


_STATUS_FOR_ERROR: dict[type[ChatError], HTTPStatus] = {
    Unauthorized: HTTPStatus.UNAUTHORIZED,
    Forbidden: HTTPStatus.FORBIDDEN,
    NotFound: HTTPStatus.NOT_FOUND,
    Conflict: HTTPStatus.CONFLICT,
    StoreUnavailable: HTTPStatus.SERVICE_UNAVAILABLE,
}


def domain_error(exc: ChatError) -> Response[dict[str, Any]]:
    if isinstance(exc, TooManyAttempts):
        response = _error(HTTPStatus.TOO_MANY_REQUESTS, "Too many failed attempts; try again later")
        response.headers["Retry-After"] = str(exc.retry_after)
        return response
    status = _STATUS_FOR_ERROR.get(type(exc), HTTPStatus.BAD_REQUEST)
    if status is HTTPStatus.SERVICE_UNAVAILABLE:
        logger.exception("database unavailable")
        return _error(status, "Service temporarily unavailable")
    if status is HTTPStatus.UNAUTHORIZED:
        # One message for every authentication failure: no hint which part was wrong.
        return _error(status, "Invalid or missing credentials")
    return _error(status, str(exc))


def route_not_found(exc: NotFoundError) -> Response[dict[str, Any]]:
    return _error(HTTPStatus.NOT_FOUND, "Not found")


def unexpected_error(exc: Exception) -> Response[dict[str, Any]]:
    logger.exception("unhandled error")
    return _error(HTTPStatus.INTERNAL_SERVER_ERROR, "Internal server error")


# Registered by call rather than as decorators: Powertools' exception_handler is untyped (mypy --strict).
# Request validation only: a ResponseValidationError is our bug and stays a 500.
app.exception_handler([RequestValidationError, RequestUnsupportedContentType])(validation_failed)
app.exception_handler([UnicodeDecodeError, RecursionError])(unreadable_body)
app.exception_handler(InvalidInput)(invalid_input)
app.exception_handler(ChatError)(domain_error)
app.exception_handler(NotFoundError)(route_not_found)
app.exception_handler(Exception)(unexpected_error)
