"""Delivery to connections and rooms, with the cleanup a dead connection calls for."""

from __future__ import annotations

from collections.abc import Iterable

from chatcore.ports import BroadcastResult, Connections, Delivery, Poster
from chatcore.protocol import MemberLeftOut, ServerFrame, encode


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
            self.forget_connections([connection_id])
        return outcome

    def broadcast(self, connection_ids: Iterable[str], frame: ServerFrame) -> BroadcastResult:
        """Post one frame to many connections; the gone ones are forgotten after everyone was tried."""
        result = self.broadcaster.broadcast(connection_ids, encode(frame))
        if result.gone:
            self.forget_connections(result.gone)
        return result

    def forget_connections(self, connection_ids: Iterable[str]) -> None:
        """Delete connections (closed, or found gone) and announce ``member_left`` where due.

        ``member_left`` goes to a room only when the connection was the user's last one there (other
        tabs keep the user present). Announcing may find more dead connections; they are forgotten the
        same way, each once.
        """
        pending = list(connection_ids)
        seen: set[str] = set()
        while pending:
            connection_id = pending.pop()
            if connection_id in seen:
                continue
            seen.add(connection_id)
            removed = self.registry.remove_connection(connection_id)
            if removed.user_id is None or removed.username is None:
                continue
            for room_id in removed.room_ids:
                remaining = self.registry.room_connections(room_id)
                if any(c.user_id == removed.user_id for c in remaining):
                    continue
                frame = MemberLeftOut(room_id=room_id, user=removed.username)
                result = self.broadcaster.broadcast((c.connection_id for c in remaining), encode(frame))
                pending.extend(result.gone)
