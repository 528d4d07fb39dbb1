"""What every frame the server sends shares: its base model and its encoding."""

# Not `from __future__ import annotations`: pydantic would then evaluate each annotation's string when a model
# class is created; real annotations cost a cold start less (about 2 ms for the frame models).
from pydantic import BaseModel, ConfigDict


class ServerModel(BaseModel):
    """A frame the server sends, or a part of one: camelCase on the wire, absent fields left out."""

    # Serializers are built when a frame of the kind is first sent (``defer_build``): a function sends a few of
    # these kinds, and building all of them cost every cold start about 25 ms.
    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True, defer_build=True)


def encode(frame: ServerModel) -> bytes:
    """Serialise a server frame (or a part of one) once, for posting to one or many connections."""
    return frame.model_dump_json(by_alias=True, exclude_none=True).encode()
