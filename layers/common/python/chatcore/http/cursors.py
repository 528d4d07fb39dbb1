"""Opaque page cursors: where the next page of a list starts, as a URL-safe string the client hands back."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from chatcore.errors import InvalidInput


def encode_cursor(position: tuple[Any, ...] | None) -> str | None:
    """The cursor for ``position`` (a service page's ``next``), or None for "no more pages"."""
    if position is None:
        return None
    return base64.urlsafe_b64encode(json.dumps(list(position), separators=(",", ":")).encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None, *types: type) -> tuple[Any, ...] | None:
    """The position in ``cursor``, checked to be values of ``types``; :class:`InvalidInput` for anything else."""
    if cursor is None:
        return None
    try:
        values = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError, RecursionError):
        values = None
    if (
        not isinstance(values, list)
        or len(values) != len(types)
        or not all(isinstance(v, t) and not isinstance(v, bool) for v, t in zip(values, types, strict=True))
    ):
        raise InvalidInput("cursor", "not a cursor this API gave out")
    return tuple(values)
