"""The HTTP API: one Powertools resolver, one router per area, errors mapped in :mod:`chatcore.http.errors`.

Each route validates its input (pydantic models and typed parameters), makes one call into the services
and shapes the answer. ``functions/rest/handler.py`` resolves every request with :data:`app`.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.openapi.exceptions import (
    RequestUnsupportedContentType,
    RequestValidationError,
    ValidationException,
)

from chatcore.errors import ChatError
from chatcore.http import errors
from chatcore.http.routes import attachments, auth, conversations, direct, groups, people, profile, search, tags
from chatcore.http.routing import caller

app = APIGatewayHttpResolver(enable_validation=True)
for area in (auth, profile, conversations, groups, direct, tags, people, search, attachments):
    app.include_router(area.router)

PUBLIC_PATHS = auth.PUBLIC_PATHS | {"/openapi.json"}
"""Routes that need no bearer token; every other route answers 401 without one."""


def openapi_document() -> str:
    # Imported here: Powertools' OpenAPI models cost the REST function's cold start about 100 ms, and only this
    # route needs them (validation does not).
    from aws_lambda_powertools.event_handler.openapi.models import HTTPBearer

    return app.get_openapi_json_schema(
        title="Chat API",
        version="1",
        description="REST side of the serverless chat. Every route but auth needs `Authorization: Bearer <token>`.",
        security_schemes={"bearerAuth": HTTPBearer(bearerFormat="JWT")},
    )


@app.get("/openapi.json", include_in_schema=False)
def openapi() -> Response[str]:
    return Response(HTTPStatus.OK, content_types.APPLICATION_JSON, openapi_document())


# ---------------------------------------------------------------- errors that depend on the request


def _credentials_problem() -> Response[dict[str, Any]] | None:
    """The 401 (or 503) a protected route gives before anything else, or None when the caller is fine.

    Powertools validates the request before the route runs, so a 422 handler asks this first: an anonymous
    request with a bad body learns only that it needs credentials.
    """
    if app.current_event.path in PUBLIC_PATHS:
        return None
    try:
        caller(app)
    except ChatError as exc:
        return errors.domain_error(exc)
    return None


def validation_failed(exc: ValidationException) -> Response[dict[str, Any]]:
    return _credentials_problem() or errors.invalid_response(errors.validation_details(exc))


def unreadable_body(exc: UnicodeDecodeError | RecursionError) -> Response[dict[str, Any]]:
    # Raised while Powertools decodes the body: bytes that are not UTF-8, or JSON nested too deep.
    return _credentials_problem() or errors.invalid_response(
        [{"field": "body", "message": "body must be UTF-8 JSON of reasonable depth"}]
    )


# Registered by call rather than as decorators: Powertools' exception_handler is untyped (mypy --strict).
# Request validation only: a ResponseValidationError is our bug and stays a 500.
app.exception_handler([RequestValidationError, RequestUnsupportedContentType])(validation_failed)
app.exception_handler([UnicodeDecodeError, RecursionError])(unreadable_body)
app.exception_handler(ChatError)(errors.domain_error)
app.exception_handler(NotFoundError)(errors.route_not_found)
app.exception_handler(Exception)(errors.unexpected_error)
