"""Deploy-time step (a CDK ``TriggerFunction``): apply the SQL migrations shipped with the layer."""

from __future__ import annotations

from chatcore import startup  # first: no garbage collection until the container has started

# isort: split
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from chatcore.composition import run_migrations
from chatcore.observability import logger


@startup.collect_after_first
@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    applied = run_migrations()
    logger.info("migrations applied" if applied else "database schema up to date", extra={"applied": applied})
    # An exception fails the trigger, and with it the deployment (CloudFormation rolls back).
    return {"applied": applied}
