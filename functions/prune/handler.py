"""EventBridge schedule: forget connections API Gateway no longer has (``$disconnect`` is best effort)."""

from __future__ import annotations

from chatcore import startup  # first: no garbage collection until the container has started

# isort: split
from functools import cache
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from chatcore.composition import build_pruner
from chatcore.observability import logger, metrics, tracer
from chatcore.service.prune import Pruner


@cache
def pruner() -> Pruner:
    """DynamoDB and the Management API, built on this container's first invocation."""
    return build_pruner()


@startup.collect_after_first
@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    report = pruner().run()
    logger.info("prune finished", extra=report._asdict())
    metrics.add_metric(name="PrunedConnections", unit=MetricUnit.Count, value=report.removed)
    return report._asdict()
