"""``$connect``: binding a verified identity to a new connection, subscribed to all of its user's rooms."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chatcore.errors import Forbidden, Unauthorized
from chatcore.rules import MAX_MEMBERSHIPS, PRESENCE_CONTACTS, PRESENCE_ROOM_SIZE

if TYPE_CHECKING:
    from chatcore.ports import Connections, Store
    from chatcore.records import ConnectionRecord
    from chatcore.service.fanout import Fanout
    from chatcore.tokens import TokenService


class ConnectionGate:
    """Admits a connection: checks the origin and the token, registers it, subscribes it to the user's rooms.

    With a :class:`Fanout`, the user's first connection also announces them online to their contacts
    (members of their small rooms); without one (tests of the gate alone) nobody is told.
    """

    def __init__(
        self,
        store: Store,
        registry: Connections,
        tokens: TokenService,
        allowed_origins: frozenset[str] | None = None,
        max_connections_per_user: int | None = None,
        fanout: Fanout | None = None,
    ) -> None:
        self._store = store
        self._registry = registry
        self._tokens = tokens
        self._allowed_origins = allowed_origins
        self._max_connections = max_connections_per_user
        self._fanout = fanout

    def connect(self, connection_id: str, token: str | None, origin: str | None = None) -> ConnectionRecord:
        """Bind the token's identity to the new connection and subscribe it to every room of its user.

        :class:`Forbidden` refuses a browser page from another site (cross-site WebSocket hijacking: the
        browser would attach nothing, but a stolen token in a page would); :class:`Unauthorized` refuses
        a missing, forged or expired token or a deleted user; :class:`LimitExceeded` a user who already has
        the most connections open at once. Non-browser clients send no ``Origin``.

        Costs: two PostgreSQL queries (the user's rooms, the presence contacts), one UpdateItem and one
        PutItem, one BatchWriteItem per 25 rooms, and for a user coming online one BatchGetItem per 100
        contacts plus their posts.
        """
        if origin is not None and self._allowed_origins is not None and origin not in self._allowed_origins:
            raise Forbidden("origin not allowed")
        identity = self._tokens.verify(token)
        user = self._store.get_user(identity.user_id)
        if user is None or user.username != identity.username:
            raise Unauthorized("user no longer exists")
        rooms = self._store.member_rooms(user.id, limit=MAX_MEMBERSHIPS)
        contacts = self._store.presence_contacts(user.id, max_room_size=PRESENCE_ROOM_SIZE, limit=PRESENCE_CONTACTS)
        admitted = self._registry.add_connection(
            connection_id, user.id, user.username, max_per_user=self._max_connections, audience=contacts
        )
        self._registry.subscribe_rooms(admitted.record, rooms)
        if admitted.first_of_user and self._fanout is not None:
            self._fanout.presence(user.username, True, contacts)
        return admitted.record
