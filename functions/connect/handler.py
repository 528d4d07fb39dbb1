"""``$connect``: verify the ``?token=`` and bind its identity to the new connection."""

from __future__ import annotations

from chatcore import startup  # first: no garbage collection until the container has started

# isort: split
from functools import cache
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.typing import LambdaContext
from chatcore.aws.events import ConnectEvent
from chatcore.composition import build_connection_gate
from chatcore.errors import Forbidden, LimitExceeded, StoreUnavailable, Unauthorized
from chatcore.observability import logger, metrics, tracer
from chatcore.service.gate import ConnectionGate


@cache
def connection_gate() -> ConnectionGate:
    """This container's gate (PostgreSQL, DynamoDB, the token key), built on its first invocation."""
    return build_connection_gate()


@startup.collect_after_first
@logger.inject_lambda_context(correlation_id_path="requestContext.requestId", clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = parse(event=event, model=ConnectEvent)
    connection_id = request.request_context.connection_id
    logger.append_keys(connection_id=connection_id)
    try:
        record = connection_gate().connect(connection_id, request.token, request.origin)
    except Forbidden:
        logger.warning("connection refused: origin not allowed", extra={"origin": request.origin})
        metrics.add_metric(name="ConnectRefused", unit=MetricUnit.Count, value=1)
        return {"statusCode": 403, "body": "Forbidden"}
    except Unauthorized as exc:
        logger.info("connection refused", extra={"reason": str(exc)})
        metrics.add_metric(name="ConnectRefused", unit=MetricUnit.Count, value=1)
        return {"statusCode": 401, "body": "Unauthorized"}
    except LimitExceeded as exc:
        logger.info("connection refused", extra={"reason": str(exc)})
        metrics.add_metric(name="ConnectRefused", unit=MetricUnit.Count, value=1)
        return {"statusCode": 429, "body": "Too Many Connections"}
    except StoreUnavailable:
        logger.exception("database unavailable during connect")
        metrics.add_metric(name="ConnectUnavailable", unit=MetricUnit.Count, value=1)
        return {"statusCode": 503, "body": "Service Unavailable"}
    logger.info("connected", extra={"user_id": record.user_id})
    metrics.add_metric(name="Connected", unit=MetricUnit.Count, value=1)
    return {"statusCode": 200}
