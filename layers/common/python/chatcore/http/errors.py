"""The one place errors become HTTP responses: domain errors to their status, validation to 422."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.openapi.exceptions import ValidationException

from chatcore.errors import (
    ChatError,
    Conflict,
    Forbidden,
    InvalidInput,
    LimitExceeded,
    NotFound,
    TooManyAttempts,
    Unauthorized,
    Unavailable,
)
from chatcore.http.models import ValidationErrorOut
from chatcore.observability import logger

_STATUS_FOR_ERROR: dict[type[ChatError], HTTPStatus] = {
    Unauthorized: HTTPStatus.UNAUTHORIZED,
    Forbidden: HTTPStatus.FORBIDDEN,
    NotFound: HTTPStatus.NOT_FOUND,
    Conflict: HTTPStatus.CONFLICT,
}


def error_response(status: HTTPStatus, message: str) -> Response[dict[str, Any]]:
    return Response(status, content_types.APPLICATION_JSON, {"statusCode": int(status), "message": message})


def invalid_response(errors: list[dict[str, str]]) -> Response[dict[str, Any]]:
    body = ValidationErrorOut.model_validate({"statusCode": 422, "message": "Invalid request", "errors": errors})
    return Response(HTTPStatus.UNPROCESSABLE_ENTITY, content_types.APPLICATION_JSON, body.model_dump(by_alias=True))


def validation_details(exc: ValidationException) -> list[dict[str, str]]:
    """One ``{field, message}`` per invalid field, the field named without Powertools' location prefix."""
    return [
        {
            "field": ".".join(str(p) for p in err.get("loc", ())[1:]) or str(next(iter(err.get("loc", ())), "body")),
            "message": str(err.get("msg", "invalid value")),
        }
        for err in exc.errors()
    ]


def invalid_input(exc: InvalidInput) -> Response[dict[str, Any]]:
    return invalid_response([{"field": exc.field, "message": exc.message}])


def domain_error(exc: ChatError) -> Response[dict[str, Any]]:
    if isinstance(exc, InvalidInput):
        return invalid_input(exc)
    if isinstance(exc, TooManyAttempts):
        response = error_response(HTTPStatus.TOO_MANY_REQUESTS, "Too many failed attempts; try again later")
        response.headers["Retry-After"] = str(exc.retry_after)
        return response
    if isinstance(exc, LimitExceeded):
        response = error_response(HTTPStatus.TOO_MANY_REQUESTS, f"Limit reached: {exc}")
        if exc.retry_after is not None:
            response.headers["Retry-After"] = str(exc.retry_after)
        return response
    if isinstance(exc, Unavailable):
        logger.exception("backing service unavailable")
        return error_response(HTTPStatus.SERVICE_UNAVAILABLE, "Service temporarily unavailable")
    status = _STATUS_FOR_ERROR.get(type(exc), HTTPStatus.BAD_REQUEST)
    if status is HTTPStatus.UNAUTHORIZED:
        # One message for every authentication failure: no hint which part was wrong.
        return error_response(status, "Invalid or missing credentials")
    return error_response(status, str(exc))


def route_not_found(exc: NotFoundError) -> Response[dict[str, Any]]:
    return error_response(HTTPStatus.NOT_FOUND, "Not found")


def unexpected_error(exc: Exception) -> Response[dict[str, Any]]:
    logger.exception("unhandled error")
    return error_response(HTTPStatus.INTERNAL_SERVER_ERROR, "Internal server error")
