"""The one place tests load Lambda events from ``tests/events/*.json``."""

from __future__ import annotations

import copy
import json
from functools import cache
from pathlib import Path
from typing import Any

from chatcore.protocol.client import CLIENT_FRAME_TYPES

EVENTS_DIR = Path(__file__).resolve().parents[1] / "events"


@cache
def _raw(name: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((EVENTS_DIR / f"{name}.json").read_text())
    return event


def load_event(name: str, **overrides: Any) -> dict[str, Any]:
    """A copy of the event ``name``; ``overrides`` set nested keys given as ``a__b__c=value``."""
    event = copy.deepcopy(_raw(name))
    for dotted, value in overrides.items():
        *parents, leaf = dotted.split("__")
        target = event
        for key in parents:
            target = target.setdefault(key, {})
        target[leaf] = value
    return event


def route_of(body: str | bytes | None) -> str:
    """The route API Gateway selects for ``body`` with ``$request.body.type``: the type if it is a route."""
    try:
        data = json.loads(body or b"")
    except (ValueError, RecursionError):
        return "$default"
    kind = data.get("type") if isinstance(data, dict) else None
    return kind if isinstance(kind, str) and kind in CLIENT_FRAME_TYPES else "$default"
