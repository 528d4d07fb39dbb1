"""Deploy-time step (a CDK ``TriggerFunction``): apply the SQL migrations shipped with the layer."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chatcore.observability import logger

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    # Imported here: psycopg and the secret lookup are only needed once the trigger runs.
    from chatcore.migrate import apply_migrations
    from chatcore.runtime import Settings, database_conninfo

    applied = apply_migrations(database_conninfo(Settings.from_env()))
    logger.info("migrations applied" if applied else "database schema up to date", extra={"applied": applied})
    # An exception fails the trigger, and with it the deployment (CloudFormation rolls back).
    return {"applied": applied}
