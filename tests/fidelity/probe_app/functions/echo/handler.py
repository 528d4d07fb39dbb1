"""Two-way routes: answers with the event, the context and this container's identity, after ``sleep`` ms."""

from __future__ import annotations

import json
import os
import time
from typing import Any

_STATE = {"invocations": 0}


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    _STATE["invocations"] += 1
    try:
        body = json.loads(event.get("body") or "{}")
    except (ValueError, RecursionError):
        body = None
    if isinstance(body, dict) and body.get("sleep"):
        time.sleep(float(body["sleep"]) / 1000)
    answer = {
        "type": "echo",
        "tag": body.get("tag") if isinstance(body, dict) else None,
        "route": event["requestContext"]["routeKey"],
        "event": event,
        "pid": os.getpid(),
        "invocations": _STATE["invocations"],
        "memory": context.memory_limit_in_mb,
        "remaining": context.get_remaining_time_in_millis(),
        "environment": {k: v for k, v in os.environ.items() if not k.startswith("AWS_SECRET")},
    }
    return {"statusCode": 200, "body": json.dumps(answer)}
