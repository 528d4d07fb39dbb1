"""Every route after ``$connect`` (``join``, ``message``, ..., ``$default``): one frame into the chat service."""

from __future__ import annotations

from chatcore import startup  # first: no garbage collection until the container has started

# isort: split
from functools import cache
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.typing import LambdaContext
from chatcore.aws.events import MessageEvent
from chatcore.composition import build_chat_service
from chatcore.observability import logger, metrics, tracer
from chatcore.service.chat import ChatService


@cache
def chat_service() -> ChatService:
    """PostgreSQL, DynamoDB and the Management API, built on this container's first invocation."""
    return build_chat_service()


@startup.collect_after_first
@logger.inject_lambda_context(correlation_id_path="requestContext.requestId", clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = parse(event=event, model=MessageEvent)
    connection_id = request.request_context.connection_id
    logger.append_keys(connection_id=connection_id, route=request.request_context.route_key)
    body = request.body if isinstance(request.body, str) else None
    chat_service().handle_frame(connection_id, request.request_context.route_key, body)
    metrics.add_metric(name="Frames", unit=MetricUnit.Count, value=1)
    return {"statusCode": 200}
