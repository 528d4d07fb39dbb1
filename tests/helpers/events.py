"""The one place tests load Lambda events from ``tests/events/*.json``."""

from __future__ import annotations

import copy
import json
from functools import cache
from pathlib import Path
from typing import Any

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
