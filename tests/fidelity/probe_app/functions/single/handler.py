"""Reserved concurrency 1: a second invocation while this one sleeps is throttled."""

from __future__ import annotations

import json
import time
from typing import Any


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    time.sleep(1)
    return {"statusCode": 200, "body": json.dumps({"type": "single"})}
