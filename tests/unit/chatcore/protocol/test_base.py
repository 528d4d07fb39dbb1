"""What every server frame shares: camelCase names on the wire, and absent fields left out."""

from __future__ import annotations

import json

from chatcore.protocol.base import ServerModel, encode
from pydantic import Field


class _Sample(ServerModel):
    room_id: int = Field(alias="roomId")
    detail: str | None = None


def test_encode_uses_wire_names_and_leaves_out_absent_fields() -> None:
    """A frame built by field name is sent with its camelCase alias, without the fields left unset."""
    raw = encode(_Sample(room_id=7))
    assert isinstance(raw, bytes)
    assert json.loads(raw) == {"roomId": 7}
