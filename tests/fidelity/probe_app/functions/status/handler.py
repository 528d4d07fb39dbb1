"""An invocation that succeeds with a 500 answer (a handled error, not a failed invocation)."""

from __future__ import annotations

from typing import Any


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return {"statusCode": 500, "body": "handled: 500"}
