"""SQS worker: records every record it gets (``sqs#<key>``), and reports as failed those whose body asks.

A body is JSON: ``key`` (the test's), ``failTimes`` (fail the first n receives; -1: every one), ``sleep``
(seconds the batch takes, first).
"""

from __future__ import annotations

import json
import os
import time
from typing import Any


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    import boto3

    started = time.time()
    time.sleep(max(float(json.loads(record["body"]).get("sleep", 0)) for record in event["Records"]))
    ended = time.time()
    client = boto3.client("dynamodb")
    batch = [record["messageId"] for record in event["Records"]]
    failures = []
    for record in event["Records"]:
        body = json.loads(record["body"])
        receives = int(record["attributes"]["ApproximateReceiveCount"])
        seen = {
            "record": record,
            "batch": batch,
            "at": time.time(),
            "span": [started, ended],
            "environment": {name: os.environ[name] for name in ("JOBS_QUEUE_URL", "DEAD_LETTERS_ARN")},
        }
        client.put_item(
            TableName=os.environ["RECORDS_TABLE"],
            Item={
                "pk": {"S": f"sqs#{body['key']}"},
                "sk": {"S": f"{receives:03d}#{record['messageId']}"},
                "event": {"S": json.dumps(seen)},
            },
        )
        fail = int(body.get("failTimes", 0))
        if fail < 0 or receives <= fail:
            failures.append({"itemIdentifier": record["messageId"]})
    return {"batchItemFailures": failures}
