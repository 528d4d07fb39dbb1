"""The HTTP API (auth, profile, groups, direct chats, tags, nicknames): one call into the layer's API."""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any

from chatcore.observability import logger, metrics, tracer

if TYPE_CHECKING:
    from aws_lambda_powertools.event_handler import APIGatewayHttpResolver
    from aws_lambda_powertools.utilities.typing import LambdaContext
    from chatcore.rest_api import Services


@cache
def api() -> tuple[APIGatewayHttpResolver, Services]:
    """The resolver and this container's services, built on the first call (not at import time)."""
    from chatcore.rest_api import app, build_services

    return app, build_services()


@logger.inject_lambda_context(correlation_id_path="requestContext.requestId", clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    from aws_lambda_powertools.metrics import MetricUnit

    app, services = api()
    app.append_context(services=services)
    response = app.resolve(event, context)
    status = int(response.get("statusCode", 200))
    metrics.add_metric(name="ServerErrors" if status >= 500 else "Requests", unit=MetricUnit.Count, value=1)
    return response
