"""Baseline ``$connect``, in the style of aws-samples/simple-websockets-chat-app's ``onconnect``.

The same requests as ``functions/connect`` for a valid token: three SQL queries (the user, their rooms, their
contacts), an UpdateItem of the user's item (connection set, capped), a PutItem of the connection, a
BatchWriteItem of its room items, an UpdateItem listing them on the connection, a BatchGetItem of the contacts'
connections when the user comes online, and a post to each of those.

What ours does beyond this: it verifies the token (an HS256 JWT against the signing key set, with its expiry;
here the claims are decoded unverified, as the sample trusts its query string), checks the ``Origin``, validates
the event with a pydantic model, and logs, traces and counts with Powertools.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import time
import zlib
from typing import Any

import boto3
import rds

TABLE = os.environ["CONNECTIONS_TABLE"]
dynamodb = boto3.client("dynamodb")
management = boto3.client("apigatewaymanagementapi", endpoint_url=os.environ["MANAGEMENT_API_URL"])
db = rds.connect()

TTL_SECONDS = 2 * 3600 + 600
MAX_CONNECTIONS = 10


def claims(token: str) -> dict[str, Any]:
    """The token's payload, unverified."""
    payload = token.split(".")[1]
    decoded: dict[str, Any] = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return decoded


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    connection_id = event["requestContext"]["connectionId"]
    try:
        token = claims((event.get("queryStringParameters") or {})["token"])
    except (KeyError, IndexError, ValueError):
        return {"statusCode": 401, "body": "Unauthorized"}
    user_id = int(token["sub"])
    user = db.execute("SELECT id, username FROM users WHERE id = %s", (user_id,)).fetchone()
    if user is None:
        return {"statusCode": 401, "body": "Unauthorized"}
    username = user[1]
    rooms = db.execute(
        "SELECT m.room_id, r.shards FROM room_members m JOIN rooms r ON r.id = m.room_id"
        " WHERE m.user_id = %s ORDER BY m.joined_at DESC LIMIT 500",
        (user_id,),
    ).fetchall()
    contacts = [
        row[0]
        for row in db.execute(
            "SELECT DISTINCT other.user_id FROM room_members mine"
            " JOIN rooms r ON r.id = mine.room_id"
            " JOIN room_members other ON other.room_id = mine.room_id AND other.user_id <> mine.user_id"
            " WHERE mine.user_id = %s AND (r.kind = 'direct'"
            "  OR (SELECT count(*) FROM room_members c WHERE c.room_id = r.id) <= 100) LIMIT 1000",
            (user_id,),
        ).fetchall()
    ]
    now = int(time.time() * 1000)
    expires = str(now // 1000 + TTL_SECONDS)
    # The user's item: this connection joins its set (at most MAX_CONNECTIONS), the contacts its audience.
    values: dict[str, Any] = {
        ":c": {"SS": [connection_id]},
        ":exp": {"N": expires},
        ":n": {"S": username},
        ":max": {"N": str(MAX_CONNECTIONS)},
    }
    if contacts:
        values[":a"] = {"NS": [str(c) for c in contacts]}
    try:
        opened = dynamodb.update_item(
            TableName=TABLE,
            Key={"pk": {"S": f"user#{user_id}"}, "sk": {"S": "#conns"}},
            UpdateExpression=f"ADD conns :c{', audience :a' if contacts else ''} SET expires_at = :exp, username = :n",
            ConditionExpression="attribute_not_exists(conns) OR size(conns) < :max",
            ExpressionAttributeValues=values,
            ReturnValues="UPDATED_NEW",
        )
    except dynamodb.exceptions.ConditionalCheckFailedException:
        return {"statusCode": 429, "body": "Too Many Connections"}
    dynamodb.put_item(
        TableName=TABLE,
        Item={
            "pk": {"S": connection_id},
            "sk": {"S": "#conn"},
            "user_id": {"N": str(user_id)},
            "username": {"S": username},
            "connected_at": {"N": str(now)},
            "last_seen": {"N": str(now)},
            "expires_at": {"N": expires},
        },
    )
    # One item per room, in the room's shard for this connection (25 rooms a call; a user here has two).
    shards = {room_id: zlib.crc32(connection_id.encode()) % count for room_id, count in rooms}
    dynamodb.batch_write_item(
        RequestItems={
            TABLE: [
                {
                    "PutRequest": {
                        "Item": {
                            "pk": {"S": f"room#{room_id}#{shard}"},
                            "sk": {"S": connection_id},
                            "user_id": {"N": str(user_id)},
                            "username": {"S": username},
                            "expires_at": {"N": expires},
                        }
                    }
                }
                for room_id, shard in shards.items()
            ]
        }
    )
    dynamodb.update_item(
        TableName=TABLE,
        Key={"pk": {"S": connection_id}, "sk": {"S": "#conn"}},
        UpdateExpression="ADD subs :t",
        ExpressionAttributeValues={":t": {"SS": [f"{room_id}:{shard}" for room_id, shard in shards.items()]}},
    )
    if len(opened["Attributes"]["conns"]["SS"]) == 1 and contacts:
        # The user's first connection: tell the contacts who are online.
        found = dynamodb.batch_get_item(
            RequestItems={
                TABLE: {
                    "Keys": [{"pk": {"S": f"user#{c}"}, "sk": {"S": "#conns"}} for c in contacts],
                    "ProjectionExpression": "conns",
                }
            }
        )
        data = json.dumps({"type": "presence", "user": username, "online": True})
        for item in found["Responses"][TABLE]:
            for other in item.get("conns", {}).get("SS", []):
                with contextlib.suppress(management.exceptions.GoneException):
                    management.post_to_connection(ConnectionId=other, Data=data.encode())
    return {"statusCode": 200}
