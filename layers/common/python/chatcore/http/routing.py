"""What every area's routes share: the services and the caller of the current request, and the
responses a route documents in the OpenAPI document."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.api_gateway import BaseRouter
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from chatcore.http.models import ErrorOut, ValidationErrorOut
from chatcore.service.api import ApiServices
from chatcore.tokens import Identity


def area_router() -> APIGatewayHttpRouter:
    """A router for one area's routes (the app includes one per area)."""
    return APIGatewayHttpRouter()  # type: ignore[no-untyped-call]  # Powertools leaves __init__ unannotated


def services(router: BaseRouter) -> ApiServices:
    """The services of the current request."""
    return router.context["services"]  # type: ignore[no-any-return]


def caller(router: BaseRouter) -> Identity:
    """The identity of the ``Authorization: Bearer`` token of the current request."""
    return services(router).accounts.authenticate(router.current_event.headers.get("authorization"))


def created(body: Any) -> Response[Any]:
    return Response(HTTPStatus.CREATED, content_types.APPLICATION_JSON, body)


def no_content() -> Response[None]:
    return Response(HTTPStatus.NO_CONTENT, None, None)


def documented(success: HTTPStatus, *errors: HTTPStatus) -> dict[int, OpenAPIResponse]:
    """OpenAPI entries: the success answer (the route's return model) and the errors it can give."""
    answers: dict[int, OpenAPIResponse] = {
        # Without "content" Powertools documents the route's return model; a 204 has no body.
        int(success): {"description": success.phrase, **({"content": {}} if success == HTTPStatus.NO_CONTENT else {})},
        422: {
            "description": "Invalid request, with one entry per invalid field",
            "content": {content_types.APPLICATION_JSON: {"model": ValidationErrorOut}},
        },
    }
    for status in errors:
        answers[int(status)] = {
            "description": status.phrase,
            "content": {content_types.APPLICATION_JSON: {"model": ErrorOut}},
        }
    return answers


BEARER: list[dict[str, list[str]]] = [{"bearerAuth": []}]
"""The OpenAPI security requirement of every route but auth."""
OK, CREATED, NO_CONTENT = HTTPStatus.OK, HTTPStatus.CREATED, HTTPStatus.NO_CONTENT
UNAUTHORIZED, FORBIDDEN, NOT_FOUND, CONFLICT = (
    HTTPStatus.UNAUTHORIZED,
    HTTPStatus.FORBIDDEN,
    HTTPStatus.NOT_FOUND,
    HTTPStatus.CONFLICT,
)
TOO_MANY = HTTPStatus.TOO_MANY_REQUESTS
