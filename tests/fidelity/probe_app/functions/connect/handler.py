"""$connect: ``?mode=`` picks the answer (ok, deny, raise, slow, protocol); every event is recorded."""

from __future__ import annotations

import json
import os
import time
from typing import Any


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    import boto3

    connection_id = event["requestContext"]["connectionId"]
    boto3.client("dynamodb").put_item(
        TableName=os.environ["RECORDS_TABLE"],
        Item={"pk": {"S": connection_id}, "sk": {"S": "connect"}, "event": {"S": json.dumps(event)}},
    )
    mode = (event.get("queryStringParameters") or {}).get("mode", "ok")
    if mode == "deny":
        return {"statusCode": 403, "body": "Forbidden"}
    if mode == "raise":
        raise RuntimeError("connect failed")
    if mode == "slow":
        time.sleep(4)
    if mode == "protocol":
        return {"statusCode": 200, "headers": {"Sec-WebSocket-Protocol": "probe.v1"}}
    return {"statusCode": 200}
