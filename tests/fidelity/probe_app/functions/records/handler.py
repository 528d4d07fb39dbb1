"""Two-way ``records``: the events ``$connect``/``$disconnect`` recorded for ``connectionId``."""

from __future__ import annotations

import json
import os
from typing import Any


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    import boto3

    wanted = json.loads(event["body"])["connectionId"]
    items = boto3.client("dynamodb").query(
        TableName=os.environ["RECORDS_TABLE"],
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": wanted}},
    )["Items"]
    records = {item["sk"]["S"]: json.loads(item["event"]["S"]) for item in items}
    return {"statusCode": 200, "body": json.dumps({"type": "records", "records": records})}
