"""Outlives its 1 s function timeout."""

from __future__ import annotations

import time
from typing import Any


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    time.sleep(3)
    return {"statusCode": 200}
