"""The HTTP API (auth, profile, groups, direct chats, tags, people): one resolver over the layer's routes."""

from __future__ import annotations

from chatcore import startup  # first: no garbage collection until the container has started

# isort: split
from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from chatcore.composition import build_api_services
from chatcore.http.app import app
from chatcore.observability import logger, metrics, tracer
from chatcore.service.api import ApiServices


@cache
def services() -> ApiServices:
    """PostgreSQL and the token key (DynamoDB on first use), built on this container's first invocation."""
    return build_api_services()


@startup.collect_after_first
@logger.inject_lambda_context(correlation_id_path="requestContext.requestId", clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    app.append_context(services=services())  # type: ignore[no-untyped-call]  # unannotated in Powertools
    return app.resolve(event, context)
