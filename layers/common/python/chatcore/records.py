"""The records of the AWS side, as its adapters return them: the connection registry's and the fan-out queue's,
what became of a post to a connection, and an attachment's upload form.

Named tuples where a record is a value (as :mod:`chatcore.rows`, and for the same reason: cheap to define on a cold
start and to build for every connection of a room), free of any AWS type: connections, their usage in the
rate-limit window, a room's audience, what a removed connection was, a page of a large room's delivery, and a
presigned POST. Here rather than in :mod:`chatcore.ports`, whose protocols are imported for annotations only.
"""

from __future__ import annotations

import json
from enum import Enum
from typing import NamedTuple


class ConnectionRecord(NamedTuple):
    connection_id: str
    user_id: int
    username: str
    connected_at: int
    """Epoch milliseconds."""
    last_seen: int
    """Epoch milliseconds of the last frame or ping."""
    expires_at: int
    """Epoch seconds."""


class NewConnection(NamedTuple):
    record: ConnectionRecord
    first_of_user: bool
    """True when the user had no other connection open (the user just came online)."""


class Usage(NamedTuple):
    """How many frames of each kind a connection sent in the current rate-limit window."""

    frames: int
    messages: int
    typing: int


class RoomConnection(NamedTuple):
    connection_id: str
    user_id: int
    username: str


class RemovedConnection(NamedTuple):
    """What a deleted connection was: whose it was (None if nothing was stored) and the rooms it had joined."""

    user_id: int | None
    username: str | None
    room_ids: list[int]
    last_of_user: bool = False
    """True when this was the user's last open connection (the user is now offline)."""
    audience: tuple[int, ...] = ()
    """The users to tell that this user went offline (when this was the user's last connection)."""


class FanoutJob(NamedTuple):
    """One page of a large room's delivery, as the fan-out queue carries it: the encoded frame and either a
    shard of the room to read or the connections to try again."""

    room_id: int
    frame: str
    """The frame exactly as posted (JSON text): the worker needs no database."""
    shard: int | None = None
    connection_ids: tuple[str, ...] = ()
    attempt: int = 0
    unsubscribe: bool = False
    """The room is gone: also take the shard's connections out of it."""
    skip: tuple[str, ...] = ()
    """Connections posted to already (the sender's own, first): not posted to again from the shard."""

    def to_json(self) -> str:
        data: dict[str, object] = {
            "room": self.room_id,
            "frame": self.frame,
            "shard": self.shard,
            "connections": list(self.connection_ids),
            "attempt": self.attempt,
            "unsubscribe": self.unsubscribe,
        }
        if self.skip:
            data["skip"] = list(self.skip)
        return json.dumps(data, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> FanoutJob:
        data = json.loads(text)
        return cls(
            room_id=int(data["room"]),
            frame=str(data["frame"]),
            shard=None if data.get("shard") is None else int(data["shard"]),
            connection_ids=tuple(str(c) for c in data.get("connections", ())),
            attempt=int(data.get("attempt", 0)),
            unsubscribe=bool(data.get("unsubscribe", False)),
            skip=tuple(str(c) for c in data.get("skip", ())),
        )


# ---------------------------------------------------------------- delivery (the Management API)


class Delivery(Enum):
    DELIVERED = "delivered"
    GONE = "gone"
    FAILED = "failed"


class BroadcastResult(NamedTuple):
    """Where each connection of a broadcast ended up; start one with :meth:`empty` (its lists are filled in)."""

    delivered: list[str]
    gone: list[str]
    """Connections API Gateway no longer knows (410): the caller should forget them."""
    failed: list[str]
    """Connections whose post failed for another reason after the client's retries."""

    @classmethod
    def empty(cls) -> BroadcastResult:
        return cls([], [], [])

    def add(self, connection_id: str, outcome: Delivery) -> None:
        {
            Delivery.DELIVERED: self.delivered,
            Delivery.GONE: self.gone,
            Delivery.FAILED: self.failed,
        }[outcome].append(connection_id)


# ---------------------------------------------------------------- files (S3)


class UploadForm(NamedTuple):
    """A presigned POST: the browser sends ``fields`` and then the file, as a form, to ``url``."""

    url: str
    fields: dict[str, str]
