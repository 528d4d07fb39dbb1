"""The PostgreSQL store: every query the chat makes, one class per area, parameterised SQL only (psycopg 3).

:class:`ChatStore` implements every store port of :mod:`chatcore.ports` over one :class:`Database`;
a database that cannot be reached raises :class:`chatcore.errors.StoreUnavailable`.
"""

from __future__ import annotations

from chatcore.postgres.attachments import AttachmentQueries
from chatcore.postgres.database import Database
from chatcore.postgres.logins import LoginQueries
from chatcore.postgres.messages import MessageQueries
from chatcore.postgres.rooms import RoomQueries
from chatcore.postgres.tags import TagQueries
from chatcore.postgres.users import AccountRemoval, UserQueries


class ChatStore(UserQueries, AccountRemoval, RoomQueries, MessageQueries, AttachmentQueries, TagQueries, LoginQueries):
    """The store over one :class:`Database` connection (one per warm container)."""

    def __init__(self, db: Database) -> None:
        self._db = db
