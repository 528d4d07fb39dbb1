"""Reading and changing stored state the way only tests need: straight from PostgreSQL and DynamoDB."""

from __future__ import annotations

from chatcore.aws.registry import CONNECTION_SK, TTL_ATTRIBUTE, ConnectionRegistry, connection_record
from chatcore.records import ConnectionRecord


def stored_connection(registry: ConnectionRegistry, connection_id: str) -> ConnectionRecord | None:
    """The connection item as ``registry`` wrote it, or None if absent or expired by the registry's clock."""
    item = registry._client.get_item(
        TableName=registry._table, Key={"pk": {"S": connection_id}, "sk": {"S": CONNECTION_SK}}, ConsistentRead=True
    ).get("Item")
    if item is None or int(item[TTL_ATTRIBUTE]["N"]) <= registry._clock():
        return None
    return connection_record(item)


def opened_a_minute_ago(registry: ConnectionRegistry, connection_id: str) -> None:
    """Make the connection look registered a minute ago: past the grace in which a 410 keeps a new connection
    (API Gateway also answers 410 while ``$connect`` runs)."""
    registry._client.update_item(
        TableName=registry._table,
        Key={"pk": {"S": connection_id}, "sk": {"S": CONNECTION_SK}},
        UpdateExpression="SET connected_at = connected_at - :minute",
        ExpressionAttributeValues={":minute": {"N": "60000"}},
    )
