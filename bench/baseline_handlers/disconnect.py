"""Baseline ``$disconnect``, in the style of aws-samples/simple-websockets-chat-app's ``ondisconnect``.

The same requests as ``functions/disconnect``: a GetItem of the connection item (which lists its room items),
a BatchWriteItem deleting them with it, an UpdateItem taking it out of its user's set, and for the user's last
connection a DeleteItem of that set, a BatchGetItem of the audience's connections and an ``offline`` post to each.
No database, as ours.

What ours does beyond this: it validates the event with a pydantic model, forgets connections found gone while
announcing (and announces for them in turn), and logs, traces and counts with Powertools.
"""

from __future__ import annotations

import contextlib
import json
import os
from typing import Any

import boto3

TABLE = os.environ["CONNECTIONS_TABLE"]
dynamodb = boto3.client("dynamodb")
management = boto3.client("apigatewaymanagementapi", endpoint_url=os.environ["MANAGEMENT_API_URL"])


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    connection_id = event["requestContext"]["connectionId"]
    item = dynamodb.get_item(
        TableName=TABLE,
        Key={"pk": {"S": connection_id}, "sk": {"S": "#conn"}},
        ConsistentRead=True,
        ProjectionExpression="user_id, username, subs, #views",
        ExpressionAttributeNames={"#views": "views"},
    ).get("Item")
    if item is None:
        return {"statusCode": 200}
    user_id, username = item["user_id"]["N"], item["username"]["S"]
    keys = [(f"room#{token.replace(':', '#')}", connection_id) for token in item.get("subs", {}).get("SS", [])]
    keys += [(f"view#{room_id}", connection_id) for room_id in item.get("views", {}).get("NS", [])]
    keys.append((connection_id, "#conn"))
    deletes: list[Any] = [{"DeleteRequest": {"Key": {"pk": {"S": pk}, "sk": {"S": sk}}}} for pk, sk in keys]
    for start in range(0, len(deletes), 25):
        dynamodb.batch_write_item(RequestItems={TABLE: deletes[start : start + 25]})
    user_key = {"pk": {"S": f"user#{user_id}"}, "sk": {"S": "#conns"}}
    remaining = dynamodb.update_item(
        TableName=TABLE,
        Key=user_key,
        UpdateExpression="DELETE conns :c",
        ExpressionAttributeValues={":c": {"SS": [connection_id]}},
        ReturnValues="ALL_NEW",
    ).get("Attributes", {})
    if "conns" in remaining:  # another tab is still open
        return {"statusCode": 200}
    with contextlib.suppress(dynamodb.exceptions.ConditionalCheckFailedException):
        dynamodb.delete_item(TableName=TABLE, Key=user_key, ConditionExpression="attribute_not_exists(conns)")
    audience = remaining.get("audience", {}).get("NS", [])
    if audience:
        found = dynamodb.batch_get_item(
            RequestItems={
                TABLE: {
                    "Keys": [{"pk": {"S": f"user#{u}"}, "sk": {"S": "#conns"}} for u in audience],
                    "ProjectionExpression": "conns",
                }
            }
        )
        data = json.dumps({"type": "presence", "user": username, "online": False}).encode()
        for other in found["Responses"][TABLE]:
            for other_id in other.get("conns", {}).get("SS", []):
                with contextlib.suppress(management.exceptions.GoneException):
                    management.post_to_connection(ConnectionId=other_id, Data=data)
    return {"statusCode": 200}
