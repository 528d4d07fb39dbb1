"""``/auth``: register and log in (the only routes that need no token)."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response

from chatcore.http.models import AuthResponse, LoginRequest, RegisterRequest
from chatcore.http.routing import CONFLICT, CREATED, OK, UNAUTHORIZED, area_router, created, documented, services
from chatcore.http.views import session_view

router = area_router()

PUBLIC_PATHS = frozenset({"/auth/register", "/auth/login"})
"""The routes of this area, which need no bearer token."""


@router.post("/auth/register", status_code=201, responses=documented(CREATED, CONFLICT), tags=["auth"])
def register(body: RegisterRequest) -> Response[AuthResponse]:
    """Create an account and sign in; 409 for a username taken (in any letter case) or used as another user's
    nickname, or a nickname that is another user's username (names compared case-folded, NFKC)."""
    session = services(router).accounts.register(body.username, body.password, email=body.email, nickname=body.nickname)
    return created(session_view(session))


@router.post("/auth/login", responses=documented(OK, UNAUTHORIZED), tags=["auth"])
def login(body: LoginRequest) -> AuthResponse:
    """Sign in; the same 401 for an unknown user or a wrong password; 429 with Retry-After when throttled."""
    source_ip = router.current_event.request_context.http.source_ip
    return session_view(services(router).accounts.login(body.username, body.password, source_ip))
