"""Delivery to connections and rooms, with the cleanup a dead connection calls for."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from chatcore.protocol.base import encode
from chatcore.protocol.presence import PresenceOut
from chatcore.records import BroadcastResult, Delivery

if TYPE_CHECKING:  # annotations only: $connect and $disconnect send presence alone, and define no other frame
    from chatcore.ports import Connections, Poster
    from chatcore.protocol.server import ServerFrame

GONE_GRACE_SECONDS = 30.0
"""How long after registering a connection a 410 does not remove it (``$connect`` may still be running)."""


class Fanout:
    """Sends frames through a :class:`~chatcore.ports.Poster` and forgets connections found gone.

    Needs only the connection registry and the Management API, so ``$disconnect`` and the prune job use
    it without database or token-secret access.
    """

    def __init__(self, registry: Connections, broadcaster: Poster) -> None:
        self.registry = registry
        self.broadcaster = broadcaster

    def send(self, connection_id: str, frame: ServerFrame) -> Delivery:
        """Post one frame to one connection; a gone connection is forgotten."""
        outcome = self.broadcaster.send(connection_id, encode(frame))
        if outcome is Delivery.GONE:
            self.forget_connections([connection_id], found_gone=True)
        return outcome

    def broadcast(self, connection_ids: Iterable[str], frame: ServerFrame) -> BroadcastResult:
        """Post one frame to many connections; the gone ones are forgotten after everyone was tried."""
        return self.broadcast_encoded(connection_ids, encode(frame))

    def broadcast_encoded(self, connection_ids: Iterable[str], data: bytes) -> BroadcastResult:
        """:meth:`broadcast` of a frame encoded already (a fan-out job carries it so)."""
        result = self.broadcaster.broadcast(connection_ids, data)
        if result.gone:
            self.forget_connections(result.gone, found_gone=True)
        return result

    def presence(self, username: str, online: bool, audience: Iterable[int]) -> None:
        """Tell the open connections of the ``audience`` users that ``username`` came online or went offline."""
        connections = [c for ids in self.registry.users_connections(audience).values() for c in ids]
        if connections:
            self.broadcast(connections, PresenceOut(user=username, online=online))

    def forget_connections(self, connection_ids: Iterable[str], *, found_gone: bool = False) -> None:
        """Delete connections (closed, or ``found_gone`` by a post) and, for a user's last one, announce them
        offline.

        A connection found gone less than :data:`GONE_GRACE_SECONDS` after it registered is kept: API
        Gateway answers 410 to posts to a connection still in ``$connect`` too (a contact's presence can race
        a new tab's opening); if it really is gone, the prune sweep finds it later.

        The offline ``presence`` goes to the audience kept with the connection at ``$connect`` and only
        when no other connection of the user is open (the registry's removal is atomic on the user's item,
        so of two tabs closing at once exactly one announces). Announcing may find more dead connections;
        they are forgotten the same way, each once.
        """
        pending = list(connection_ids)
        first = set() if found_gone else set(pending)  # closed on purpose: removed whatever their age
        seen: set[str] = set()
        while pending:
            connection_id = pending.pop()
            if connection_id in seen:
                continue
            seen.add(connection_id)
            grace = GONE_GRACE_SECONDS if found_gone or connection_id not in first else 0.0
            removed = self.registry.remove_connection(connection_id, min_age_seconds=grace)
            if removed.username is None or not removed.last_of_user or not removed.audience:
                continue
            connections = [c for ids in self.registry.users_connections(removed.audience).values() for c in ids]
            frame = PresenceOut(user=removed.username, online=False)
            result = self.broadcaster.broadcast(connections, encode(frame))
            pending.extend(result.gone)
