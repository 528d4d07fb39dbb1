"""Every route after ``$connect`` (``join``, ``message``, ..., ``$default``): one frame into the chat service."""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any

from chatcore.observability import logger, metrics, tracer

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext
    from chatcore.chat import ChatService


@cache
def chat_service() -> ChatService:
    from chatcore.runtime import build_chat_service

    return build_chat_service()


@logger.inject_lambda_context(correlation_id_path="requestContext.requestId", clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    # Imported on the first call, not at import time (cold start; see chatcore.observability).
    from aws_lambda_powertools.metrics import MetricUnit
    from aws_lambda_powertools.utilities.parser import parse
    from chatcore.events import MessageEvent

    request = parse(event=event, model=MessageEvent)
    connection_id = request.request_context.connection_id
    logger.append_keys(connection_id=connection_id, route=request.request_context.route_key)
    body = request.body if isinstance(request.body, str) else None
    chat_service().handle_frame(connection_id, body)
    metrics.add_metric(name="Frames", unit=MetricUnit.Count, value=1)
    return {"statusCode": 200}
