"""The HTTP API: auth, profile, groups, direct chats, tags and nicknames, over Powertools' resolver."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.logging import correlation_paths
from chatcore.errors import ChatError, Conflict, Forbidden, NotFound, StoreUnavailable, Unauthorized
from chatcore.observability import logger, metrics, tracer
from chatcore.rest_models import (
    AuthResponse,
    CreateGroupRequest,
    GroupOut,
    LoginRequest,
    ProfileOut,
    RegisterRequest,
)

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext
    from chatcore.accounts import AccountService, Session
    from chatcore.auth import Identity
    from chatcore.rooms import RoomService
    from chatcore.store import GroupSummary

app = APIGatewayHttpResolver(enable_validation=True)


@dataclass(frozen=True)
class Services:
    accounts: AccountService
    rooms: RoomService


@cache
def services() -> Services:
    from chatcore.accounts import AccountService
    from chatcore.rooms import RoomService
    from chatcore.runtime import Settings, build_store, build_tokens

    settings = Settings.from_env()
    store = build_store(settings)
    return Services(accounts=AccountService(store, build_tokens(settings)), rooms=RoomService(store))


def caller() -> Identity:
    """The identity of the ``Authorization: Bearer`` token of the current request."""
    return services().accounts.authenticate(app.current_event.headers.get("authorization"))


def _session_view(session: Session) -> AuthResponse:
    user = session.user
    return AuthResponse(
        token=session.token,
        expires_in=session.expires_in,
        user=ProfileOut(
            id=user.id,
            username=user.username,
            nickname=user.nickname,
            avatar=user.avatar,
            email=user.email,
            created_at=user.created_at,
        ),
    )


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


# ---------------------------------------------------------------- auth


@app.post("/auth/register")
def register(body: RegisterRequest) -> Response[AuthResponse]:
    session = services().accounts.register(body.username, body.password, email=body.email, nickname=body.nickname)
    return Response(HTTPStatus.CREATED, content_types.APPLICATION_JSON, _session_view(session))


@app.post("/auth/login")
def login(body: LoginRequest) -> AuthResponse:
    return _session_view(services().accounts.login(body.username, body.password))


# ---------------------------------------------------------------- groups


@app.get("/groups")
def list_groups() -> list[GroupOut]:
    return [_group_view(g) for g in services().rooms.list_groups(caller())]


@app.post("/groups")
def create_group(body: CreateGroupRequest) -> Response[GroupOut]:
    identity = caller()
    group = services().rooms.create_group(identity, body.name, private=body.private)
    view = GroupOut(
        id=group.id,
        name=group.name,
        private=group.private,
        kind=group.kind,
        created_at=group.created_at,
        member_count=1,
        is_member=True,
        role="owner",
    )
    return Response(HTTPStatus.CREATED, content_types.APPLICATION_JSON, view)


@app.get("/openapi.json")
def openapi() -> Response[str]:
    return Response(
        HTTPStatus.OK,
        content_types.APPLICATION_JSON,
        app.get_openapi_json_schema(title="Chat API", version="1"),
    )


# ---------------------------------------------------------------- errors


def _error(status: HTTPStatus, message: str) -> Response[dict[str, Any]]:
    return Response(status, content_types.APPLICATION_JSON, {"statusCode": int(status), "message": message})


@app.exception_handler(RequestValidationError)
def validation_failed(exc: RequestValidationError) -> Response[dict[str, Any]]:
    details = [
        {
            "field": ".".join(str(p) for p in err.get("loc", ())[1:]) or "body",
            "message": err.get("msg", "invalid value"),
        }
        for err in exc.errors()
    ]
    return Response(
        HTTPStatus.UNPROCESSABLE_ENTITY,
        content_types.APPLICATION_JSON,
        {"statusCode": 422, "message": "Invalid request", "errors": details},
    )


_STATUS_FOR_ERROR: dict[type[ChatError], HTTPStatus] = {
    Unauthorized: HTTPStatus.UNAUTHORIZED,
    Forbidden: HTTPStatus.FORBIDDEN,
    NotFound: HTTPStatus.NOT_FOUND,
    Conflict: HTTPStatus.CONFLICT,
    StoreUnavailable: HTTPStatus.SERVICE_UNAVAILABLE,
}


@app.exception_handler(ChatError)
def domain_error(exc: ChatError) -> Response[dict[str, Any]]:
    status = _STATUS_FOR_ERROR.get(type(exc), HTTPStatus.BAD_REQUEST)
    if status is HTTPStatus.SERVICE_UNAVAILABLE:
        logger.exception("database unavailable")
        return _error(status, "Service temporarily unavailable")
    if status is HTTPStatus.UNAUTHORIZED:
        # One message for every authentication failure: no hint which part was wrong.
        return _error(status, "Invalid or missing credentials")
    return _error(status, str(exc))


@app.exception_handler(Exception)
def unexpected_error(exc: Exception) -> Response[dict[str, Any]]:
    logger.exception("unhandled error")
    return _error(HTTPStatus.INTERNAL_SERVER_ERROR, "Internal server error")


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
