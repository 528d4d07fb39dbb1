"""$connect: ``?mode=`` picks the answer (ok, record, deny, raise, slow, protocol); ``record`` keeps the event."""

from __future__ import annotations

import json
import os
import time
from typing import Any


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    mode = (event.get("queryStringParameters") or {}).get("mode", "ok")
    if mode == "record":  # boto3 only then: the other connections stay cheap to open
        import boto3

        connection_id = event["requestContext"]["connectionId"]
        boto3.client("dynamodb").put_item(
            TableName=os.environ["RECORDS_TABLE"],
            Item={"pk": {"S": connection_id}, "sk": {"S": "connect"}, "event": {"S": json.dumps(event)}},
        )
    if mode == "deny":
        return {"statusCode": 403, "body": "Forbidden"}
    if mode == "raise":
        raise RuntimeError("connect failed")
    if mode == "slow":
        time.sleep(4)
    if mode == "protocol":
        return {"statusCode": 200, "headers": {"Sec-WebSocket-Protocol": "probe.v1"}}
    return {"statusCode": 200}
