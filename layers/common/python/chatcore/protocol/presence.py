"""The ``presence`` frame: a user's first connection opened or last one closed.

In a module of its own because it is all that ``$connect``, ``$disconnect`` and the pruner send, so they define
no other frame model on a cold start.
"""

# Not `from __future__ import annotations`: pydantic would then evaluate each annotation's string when a model
# class is created; real annotations cost a cold start less (about 2 ms for the frame models).
from typing import Literal

from chatcore.protocol.base import ServerModel


class PresenceOut(ServerModel):
    type: Literal["presence"] = "presence"
    user: str
    online: bool
