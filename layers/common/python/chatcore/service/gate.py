"""``$connect``: binding a verified identity to a new connection. Needs no Management API: it never posts."""

from __future__ import annotations

from chatcore.errors import Forbidden, Unauthorized
from chatcore.ports import Connections, Users
from chatcore.rows import ConnectionRecord
from chatcore.tokens import TokenService


class ConnectionGate:
    def __init__(
        self,
        users: Users,
        registry: Connections,
        tokens: TokenService,
        allowed_origins: frozenset[str] | None = None,
        max_connections_per_user: int | None = None,
    ) -> None:
        self._users = users
        self._registry = registry
        self._tokens = tokens
        self._allowed_origins = allowed_origins
        self._max_connections = max_connections_per_user

    def connect(self, connection_id: str, token: str | None, origin: str | None = None) -> ConnectionRecord:
        """Bind the token's identity to the new connection.

        :class:`Forbidden` refuses a browser page from another site (cross-site WebSocket hijacking: the
        browser would attach nothing, but a stolen token in a page would); :class:`Unauthorized` refuses
        a missing, forged or expired token or a deleted user; :class:`LimitExceeded` a user who already has
        the most connections open at once. Non-browser clients send no ``Origin``.
        """
        if origin is not None and self._allowed_origins is not None and origin not in self._allowed_origins:
            raise Forbidden("origin not allowed")
        identity = self._tokens.verify(token)
        user = self._users.get_user(identity.user_id)
        if user is None or user.username != identity.username:
            raise Unauthorized("user no longer exists")
        return self._registry.add_connection(connection_id, user.id, user.username, max_per_user=self._max_connections)
