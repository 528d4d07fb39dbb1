"""Takes twice its 128 MB."""

from __future__ import annotations

import time
from typing import Any


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    hog = bytearray(256 * 1024 * 1024)
    time.sleep(2)
    return {"statusCode": 200, "body": str(len(hog))}
