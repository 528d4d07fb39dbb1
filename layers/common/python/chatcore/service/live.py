"""Live membership: a user's open connections follow their rooms as memberships change.

Whoever changes a membership (the REST function adding or removing a member, the WebSocket ``join`` of a
public group, a new direct chat, a deleted group) calls here, so every connection of the user starts or
stops hearing the room at once, and is told with a frame its page can show. The change itself is already
stored when these run: a failure here is logged and costs only timeliness (a connection catches up on its
next ``$connect``), never the change.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from chatcore.observability import logger
from chatcore.protocol.server import (
    MemberJoinedOut,
    MemberLeftOut,
    RoomAddedOut,
    RoomInfo,
    RoomRemovedOut,
    RoomUpdatedOut,
    UserInfo,
    UserUpdatedOut,
)
from chatcore.rules import PRESENCE_ROOM_SIZE
from chatcore.service.delivery import RoomDelivery

if TYPE_CHECKING:
    from chatcore.ports import Connections, Rooms
    from chatcore.rows import RoomRow
    from chatcore.service.fanout import Fanout

ANNOUNCE_UP_TO = PRESENCE_ROOM_SIZE
"""Rooms up to this many members hear ``member_joined``/``member_left`` and make their members each other's
presence contacts; larger ones do not (a fan-out, and an update per online member, each time)."""


def members_if_small(rooms: Rooms, room_id: int) -> list[int] | None:
    """The room's member ids when it is small enough to announce memberships and share presence; else None."""
    ids = rooms.member_ids(room_id, limit=ANNOUNCE_UP_TO + 1)
    return ids if len(ids) <= ANNOUNCE_UP_TO else None


class LiveUpdates:
    def __init__(self, registry: Connections, fanout: Fanout, delivery: RoomDelivery | None = None) -> None:
        self._registry = registry
        self._fanout = fanout
        self._delivery = delivery or RoomDelivery(registry, fanout)

    def member_added(
        self, room: RoomInfo, user_id: int, username: str, *, shards: int, member_ids: list[int] | None = None
    ) -> None:
        """``user_id`` is now a member: subscribe their connections and tell them; in a small room (``member_ids``
        given) also tell the room, and make the new member and the members each other's presence contacts."""
        try:
            connections = self._registry.subscribe_user(user_id, username, room.id, shards)
            self._fanout.broadcast(connections, RoomAddedOut(room_id=room.id, room=room))
            if member_ids is not None and len(member_ids) <= ANNOUNCE_UP_TO:
                others = [c for c in self._registry.room_connection_ids(room.id, shards) if c not in set(connections)]
                self._fanout.broadcast(others, MemberJoinedOut(room_id=room.id, user=username))
                self._registry.add_to_audience(user_id, member_ids)
                for member in self._registry.users_connections(m for m in member_ids if m != user_id):
                    self._registry.add_to_audience(member, [user_id])
        except Exception:
            logger.exception("could not bring the new member's connections into the room", extra={"room_id": room.id})

    def member_removed(
        self, room_id: int, user_id: int, username: str, *, reason: str, member_count: int, shards: int
    ) -> None:
        """``user_id`` is no longer a member: end their subscriptions, tell them and (small rooms) the room."""
        try:
            connections = self._registry.unsubscribe_user(user_id, room_id)
            removed = RoomRemovedOut(room_id=room_id, reason="removed" if reason == "removed" else "left")
            self._fanout.broadcast(connections, removed)
            if member_count <= ANNOUNCE_UP_TO:
                self._fanout.broadcast(
                    self._registry.room_connection_ids(room_id, shards), MemberLeftOut(room_id=room_id, user=username)
                )
        except Exception:
            logger.exception("could not take the removed member's connections out", extra={"room_id": room_id})

    def room_updated(self, room: RoomRow, info: RoomInfo) -> None:
        """The room's name or description changed: tell every member's connections."""
        try:
            self._delivery.to_room(room, RoomUpdatedOut(room_id=room.id, room=info))
        except Exception:
            logger.exception("could not announce the room's change", extra={"room_id": room.id})

    def room_deleted(self, room: RoomRow) -> None:
        """The room is gone: end every subscription to it and tell those connections."""
        try:
            self._delivery.to_room(room, RoomRemovedOut(room_id=room.id, reason="deleted"), unsubscribe=True)
        except Exception:
            logger.exception("could not announce the room's deletion", extra={"room_id": room.id})

    def close_user(self, user_id: int) -> int:
        """Close every open connection of ``user_id`` (the account is gone); how many there were."""
        connections = self._registry.user_connection_ids(user_id)
        for connection_id in connections:
            self._fanout.broadcaster.close(connection_id)
        self._fanout.forget_connections(connections)  # API Gateway's $disconnect is best effort
        return len(connections)

    def user_updated(self, user: UserInfo) -> None:
        """The user changed their profile: their own open tabs show the new name at once."""
        try:
            self._fanout.broadcast(self._registry.user_connection_ids(user.id), UserUpdatedOut(user=user))
        except Exception:
            logger.exception("could not announce the profile change", extra={"user_id": user.id})
