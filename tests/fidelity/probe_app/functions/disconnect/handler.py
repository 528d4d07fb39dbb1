"""$disconnect: records the event (its status code and reason) for the ``records`` route."""

from __future__ import annotations

import json
import os
from typing import Any


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    import boto3

    boto3.client("dynamodb").put_item(
        TableName=os.environ["RECORDS_TABLE"],
        Item={
            "pk": {"S": event["requestContext"]["connectionId"]},
            "sk": {"S": "disconnect"},
            "event": {"S": json.dumps(event)},
        },
    )
    return {"statusCode": 200}
