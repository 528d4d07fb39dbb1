"""Baseline frame handler (the ``message`` route), in the style of aws-samples/simple-websockets-chat-app's
``sendmessage``.

The same requests as ``functions/message`` for a ``message`` frame: an UpdateItem of the sender's connection
item that reads who it is and counts the frame (two when a new rate window starts, as ours), the room and the
sender's role in it (one SQL query), the message inserted and read back in one transaction (two statements),
one Query of the room's connections, and a post to each of them, the sender included.

What ours does beyond this: it validates the event and the frame with pydantic models (types, lengths, the
128 KB frame limit, text limits, ``replyTo``/attachments/mentions handled when present), shapes the answer
with a pydantic model, posts with bounded parallelism, retries a stale database connection once, maps every
failure to a stable ``error`` frame, and logs, traces and counts with Powertools.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from typing import Any

import boto3
import rds

TABLE = os.environ["CONNECTIONS_TABLE"]
dynamodb = boto3.client("dynamodb")
management = boto3.client("apigatewaymanagementapi", endpoint_url=os.environ["MANAGEMENT_API_URL"])
db = rds.connect()

WINDOW_SECONDS = 10
MAX_FRAMES, MAX_MESSAGES = 120, 50

# The same statements as chatcore.postgres (rooms.room_and_role, messages.save_message), so PostgreSQL does the
# same work for both sides.
ROOM_AND_ROLE = (
    "SELECT r.id, r.name, r.private, r.kind, r.created_by, r.created_at, r.description, r.shards, m.role"
    " FROM rooms r LEFT JOIN room_members m ON m.room_id = r.id AND m.user_id = %s WHERE r.id = %s"
)
INSERT = (
    "INSERT INTO messages (room_id, user_id, content, client_msg_id, reply_to) VALUES (%s, %s, %s, %s, %s)"
    " ON CONFLICT (user_id, client_msg_id) DO NOTHING RETURNING id"
)
SELECT = """
SELECT m.id, m.room_id, m.user_id, u.username, m.content, m.client_msg_id, m.created_at, m.rev, m.edited_at,
    m.deleted_at,
    (SELECT json_build_object('id', r.id, 'sender', ru.username, 'text', left(r.content, 200),
                              'deleted', r.deleted_at IS NOT NULL)
       FROM messages r JOIN users ru ON ru.id = r.user_id WHERE r.id = m.reply_to) AS reply,
    coalesce((SELECT json_agg(mu.username ORDER BY mu.username)
                FROM message_mentions mm JOIN users mu ON mu.id = mm.user_id WHERE mm.message_id = m.id),
             '[]') AS mentions,
    coalesce((SELECT json_agg(json_build_object('id', a.id, 'name', a.name, 'size', a.size, 'type', a.content_type)
                              ORDER BY a.created_at, a.id)
                FROM attachments a WHERE a.message_id = m.id), '[]') AS attachments,
    coalesce((SELECT json_agg(json_build_object('emoji', x.emoji, 'count', x.n, 'users', x.users) ORDER BY x.first)
                FROM (SELECT mr.emoji, count(*) AS n, min(mr.created_at) AS first,
                             (array_agg(ru2.username ORDER BY mr.created_at, ru2.username))[1:20] AS users
                        FROM message_reactions mr JOIN users ru2 ON ru2.id = mr.user_id
                       WHERE mr.message_id = m.id GROUP BY mr.emoji) x), '[]') AS reactions
FROM messages m JOIN users u ON u.id = m.user_id WHERE m.id = %s
"""


def send(connection_id: str, frame: dict[str, Any]) -> None:
    with contextlib.suppress(management.exceptions.GoneException):
        management.post_to_connection(ConnectionId=connection_id, Data=json.dumps(frame).encode())


def count_frame(connection_id: str, is_message: bool) -> dict[str, Any] | None:
    """The connection item after counting this frame in the current window; None if not connected."""
    now = int(time.time() * 1000)
    key = {"pk": {"S": connection_id}, "sk": {"S": "#conn"}}
    values = {
        ":now": {"N": str(now)},
        ":w": {"N": str(now // 1000 // WINDOW_SECONDS)},
        ":f": {"N": "1"},
        ":m": {"N": "1" if is_message else "0"},
        ":t": {"N": "0"},
    }
    try:
        return dynamodb.update_item(
            TableName=TABLE,
            Key=key,
            UpdateExpression="SET last_seen = :now ADD rl_f :f, rl_m :m, rl_t :t",
            ConditionExpression="attribute_exists(pk) AND rl_w = :w",
            ExpressionAttributeValues=values,
            ReturnValues="ALL_NEW",
        )["Attributes"]
    except dynamodb.exceptions.ConditionalCheckFailedException:
        pass
    try:  # a new window (or no such connection)
        return dynamodb.update_item(
            TableName=TABLE,
            Key=key,
            UpdateExpression="SET last_seen = :now, rl_w = :w, rl_f = :f, rl_m = :m, rl_t = :t",
            ConditionExpression="attribute_exists(pk)",
            ExpressionAttributeValues=values,
            ReturnValues="ALL_NEW",
        )["Attributes"]
    except dynamodb.exceptions.ConditionalCheckFailedException:
        return None


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    connection_id = event["requestContext"]["connectionId"]
    frame = json.loads(event["body"])
    sender = count_frame(connection_id, frame.get("type") == "message")
    if sender is None:
        send(connection_id, {"type": "error", "code": "not_connected"})
        return {"statusCode": 200}
    if int(sender["rl_f"]["N"]) > MAX_FRAMES or int(sender["rl_m"]["N"]) > MAX_MESSAGES:
        send(connection_id, {"type": "error", "code": "rate_limited"})
        return {"statusCode": 200}
    user_id = int(sender["user_id"]["N"])
    room = db.execute(ROOM_AND_ROLE, (user_id, frame["roomId"])).fetchone()
    if room is None or room[8] is None:
        send(connection_id, {"type": "error", "code": "forbidden", "roomId": frame["roomId"]})
        return {"statusCode": 200}
    with db.transaction():
        inserted = db.execute(INSERT, (room[0], user_id, frame["text"], frame.get("clientMsgId"), None)).fetchone()
        if inserted is None:  # a retry: the stored message goes to the sender only (not handled here)
            return {"statusCode": 200}
        row = db.execute(SELECT, (inserted[0],)).fetchone()
    assert row is not None
    message = {
        "id": row[0],
        "roomId": row[1],
        "senderId": row[2],
        "sender": row[3],
        "text": row[4],
        "clientMsgId": row[5],
        "ts": int(row[6].timestamp() * 1000),
    }
    shards = room[7]
    recipients = {connection_id}
    for shard in range(shards):
        found = dynamodb.query(
            TableName=TABLE,
            KeyConditionExpression="pk = :pk",
            FilterExpression="attribute_not_exists(expires_at) OR expires_at > :now",
            ExpressionAttributeValues={":pk": {"S": f"room#{room[0]}#{shard}"}, ":now": {"N": str(int(time.time()))}},
            ProjectionExpression="sk",
        )
        recipients.update(item["sk"]["S"] for item in found["Items"])
    for recipient in sorted(recipients):
        send(recipient, {"type": "message", "roomId": room[0], "message": message})
    return {"statusCode": 200}
