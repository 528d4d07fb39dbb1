"""An invocation that fails: the handler raises."""

from __future__ import annotations

from typing import Any


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    raise ValueError("the probe failed on purpose")
