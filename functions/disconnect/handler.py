"""``$disconnect``: forget the connection and tell its rooms when the user's last connection left."""

from __future__ import annotations

from chatcore import startup  # first: no garbage collection until the container has started

# isort: split
from functools import cache
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.typing import LambdaContext
from chatcore.aws.events import DisconnectEvent
from chatcore.composition import build_disconnect
from chatcore.observability import logger, metrics, tracer
from chatcore.service.fanout import Fanout


@cache
def fanout() -> Fanout:
    """DynamoDB and the Management API only: no database, no token key."""
    return build_disconnect()


@startup.collect_after_first
@logger.inject_lambda_context(correlation_id_path="requestContext.requestId", clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = parse(event=event, model=DisconnectEvent)
    connection_id = request.request_context.connection_id
    logger.append_keys(connection_id=connection_id)
    fanout().forget_connections([connection_id])
    logger.info("disconnected", extra={"status_code": request.request_context.disconnect_status_code})
    metrics.add_metric(name="Disconnected", unit=MetricUnit.Count, value=1)
    return {"statusCode": 200}
