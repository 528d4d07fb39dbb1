"""Outlives its route's 1 s integration timeout, not its own 10 s: finishes and records that it did."""

from __future__ import annotations

import json
import os
import time
from typing import Any


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    import boto3

    time.sleep(2.5)
    boto3.client("dynamodb").put_item(
        TableName=os.environ["RECORDS_TABLE"],
        Item={
            "pk": {"S": event["requestContext"]["connectionId"]},
            "sk": {"S": "slow-finished"},
            "event": {"S": json.dumps({"remaining": context.get_remaining_time_in_millis()})},
        },
    )
    return {"statusCode": 200}
