"""EventBridge schedule: forget connections API Gateway no longer has (``$disconnect`` is best effort)."""

from __future__ import annotations

import os
from dataclasses import asdict
from functools import cache
from typing import TYPE_CHECKING, Any

from chatcore.observability import logger, metrics, tracer

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext
    from chatcore.prune import Pruner


@cache
def pruner() -> Pruner:
    from chatcore.prune import DEFAULT_STALE_AFTER_SECONDS, Pruner
    from chatcore.runtime import Settings, build_fanout

    stale_after = float(os.environ.get("PRUNE_STALE_AFTER_SECONDS", DEFAULT_STALE_AFTER_SECONDS))
    return Pruner(build_fanout(Settings.from_env()), stale_after_seconds=stale_after)


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    # Imported on the first call, not at import time (cold start; see chatcore.observability).
    from aws_lambda_powertools.metrics import MetricUnit

    report = pruner().run()
    logger.info("prune finished", extra=asdict(report))
    metrics.add_metric(name="PrunedConnections", unit=MetricUnit.Count, value=report.removed)
    return asdict(report)
