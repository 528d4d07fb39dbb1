"""Rooms over REST: groups (list, create, details, members, history) and direct chats.

Access follows :mod:`chatcore.rules`, the same rules the WebSocket side applies.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from chatcore.errors import Conflict, Forbidden, InvalidInput, LimitExceeded, NotFound
from chatcore.fields import DEFAULT_HISTORY_LIMIT, MAX_HISTORY_LIMIT, MEMBER_PAGE_SIZE, valid_username
from chatcore.observability import logger
from chatcore.ports import Connections, Store
from chatcore.rows import DirectSummary, MemberRow, MessageRow, Page, Role, RoomRow, RoomSummary, UserRow
from chatcore.rules import Quotas, can_read, check_manage, check_remove
from chatcore.tokens import Identity

PAGE_SIZE = 50
MAX_PAGE_SIZE = 100


def _bounded(limit: int) -> int:
    return min(max(limit, 1), MAX_PAGE_SIZE)


class RoomSubscriptions(Protocol):
    """Live WebSocket subscriptions, so a removed member stops receiving a room's frames at once."""

    def drop(self, room_id: int, user_id: int) -> None: ...


class RegistrySubscriptions:
    """:class:`RoomSubscriptions` over the connection registry.

    The registry comes from ``registry_factory`` on the first removal, so REST cold starts that never
    remove anyone do not pay for a DynamoDB client.
    """

    def __init__(self, registry_factory: Callable[[], Connections]) -> None:
        self._registry_factory = registry_factory
        self._registry: Connections | None = None

    def drop(self, room_id: int, user_id: int) -> None:
        if self._registry is None:
            self._registry = self._registry_factory()
        for connection in self._registry.room_connections(room_id):  # one Query on the by_room index
            if connection.user_id == user_id:
                self._registry.unsubscribe(connection.connection_id, room_id)


@dataclass(frozen=True, slots=True)
class RoomDetail:
    room: RoomSummary
    members: Page[MemberRow]
    """The first page of members."""


@dataclass(frozen=True, slots=True)
class HistoryPage:
    messages: list[MessageRow]
    has_more: bool


@dataclass(frozen=True, slots=True)
class DirectChat:
    room: RoomRow
    other: UserRow


class RoomService:
    def __init__(
        self, store: Store, subscriptions: RoomSubscriptions | None = None, quotas: Quotas | None = None
    ) -> None:
        self._store = store
        self._subscriptions = subscriptions
        self._quotas = quotas or Quotas()

    # ------------------------------------------------------------ groups

    def groups(
        self, caller: Identity, *, mine: bool = False, after: tuple[str, int] | None = None, limit: int = PAGE_SIZE
    ) -> Page[RoomSummary]:
        """A page of public groups and the caller's private ones (only the caller's with ``mine``), by name,
        with member counts and unread counts."""
        rows, more = self._store.groups_page(caller.user_id, mine=mine, after=after, limit=_bounded(limit))
        return Page(rows, (rows[-1].name, rows[-1].id) if more else None)

    def create_group(self, caller: Identity, name: str, *, private: bool) -> RoomSummary:
        """A new group owned by the caller; :class:`LimitExceeded` past the groups one account may create an hour."""
        quotas = self._quotas
        if self._store.rooms_created_since(caller.user_id, "group", quotas.window_seconds) >= quotas.groups_per_hour:
            raise LimitExceeded(f"at most {quotas.groups_per_hour} new groups an hour", quotas.window_seconds)
        room = self._store.create_group(name, private=private, created_by=caller.user_id)
        return RoomSummary(
            id=room.id,
            name=room.name,
            private=room.private,
            kind=room.kind,
            created_at=room.created_at,
            member_count=1,
            role="owner",
            unread=0,
        )

    def readable_room(self, caller: Identity, room_id: int) -> tuple[RoomRow, Role | None]:
        """The room and the caller's role if the caller may read it; :class:`NotFound`/:class:`Forbidden`."""
        room, role = self._store.room_and_role(room_id, caller.user_id)
        if room is None:
            raise NotFound("group not found")
        if not can_read(room, role):
            raise Forbidden("only members can see this group")
        return room, role

    def room_detail(self, caller: Identity, room_id: int) -> RoomDetail:
        """The group as the caller sees it, with its members."""
        self.readable_room(caller, room_id)
        summary = self._store.room_summary(room_id, caller.user_id)
        if summary is None:  # deleted in between
            raise NotFound("group not found")
        return RoomDetail(room=summary, members=self.members(caller, room_id, checked=True))

    def members(
        self,
        caller: Identity,
        room_id: int,
        *,
        after: str | None = None,
        limit: int = MEMBER_PAGE_SIZE,
        checked: bool = False,
    ) -> Page[MemberRow]:
        """A page of the room's members by username, after ``after``; ``checked`` when access already was."""
        if not checked:
            self.readable_room(caller, room_id)
        rows, more = self._store.members_page(room_id, after=after, limit=min(max(limit, 1), MEMBER_PAGE_SIZE))
        return Page(rows, (rows[-1].username,) if more else None)

    def history(
        self, caller: Identity, room_id: int, *, before: int | None = None, limit: int = DEFAULT_HISTORY_LIMIT
    ) -> HistoryPage:
        """Up to ``limit`` messages (older than ``before`` if given), oldest first."""
        self.readable_room(caller, room_id)
        limit = min(max(limit, 1), MAX_HISTORY_LIMIT)
        if before is None:
            rows, has_more = self._store.latest_messages(room_id, limit)
        else:
            rows, has_more = self._store.messages_before(room_id, before, limit)
        return HistoryPage(messages=rows, has_more=has_more)

    # ------------------------------------------------------------ members

    def add_member(self, caller: Identity, room_id: int, username: str) -> MemberRow:
        """The owner adds ``username`` as a member."""
        room, role = self._store.room_and_role(room_id, caller.user_id)
        if room is None:
            raise NotFound("group not found")
        check_manage(room, role)
        user = self._user(username)
        if not self._store.add_member(room_id, user.id):
            raise Conflict("already a member of this group")
        return MemberRow(
            id=user.id, username=user.username, nickname=user.nickname, role="member", last_read_message_id=0
        )

    def remove_member(self, caller: Identity, room_id: int, username: str) -> None:
        """The owner removes a member, or a member leaves; live subscriptions of the removed user end too."""
        room, role = self._store.room_and_role(room_id, caller.user_id)
        if room is None:
            raise NotFound("group not found")
        leaving = username == caller.username
        check_remove(room, role, leaving=leaving)
        target = caller.user_id if leaving else self._user(username).id
        if not self._store.remove_member(room_id, target):
            raise NotFound("not a member of this group")
        self._drop_subscriptions(room_id, target)

    def _drop_subscriptions(self, room_id: int, user_id: int) -> None:
        if self._subscriptions is None:
            return
        try:
            self._subscriptions.drop(room_id, user_id)
        except Exception:
            # Membership is already gone (every private action checks it); this only stops frames sooner.
            logger.exception("could not end the removed member's subscriptions", extra={"room_id": room_id})

    # ------------------------------------------------------------ direct chats

    def open_direct(self, caller: Identity, username: str) -> DirectChat:
        """The caller's 1:1 chat with ``username``: one room per pair, created on first request."""
        other = self._user(username)
        if other.id == caller.user_id:
            raise InvalidInput("username", "cannot start a direct chat with yourself")
        existing = self._store.direct_room(caller.user_id, other.id)
        if existing is not None:
            return DirectChat(room=existing, other=other)
        quotas = self._quotas
        if (
            self._store.rooms_created_since(caller.user_id, "direct", quotas.window_seconds)
            >= quotas.direct_chats_per_hour
        ):
            raise LimitExceeded(
                f"at most {quotas.direct_chats_per_hour} new direct chats an hour", quotas.window_seconds
            )
        return DirectChat(room=self._store.get_or_create_direct(caller.user_id, other.id), other=other)

    def direct_chats(
        self, caller: Identity, *, after: tuple[int, int] | None = None, limit: int = PAGE_SIZE
    ) -> Page[DirectSummary]:
        """A page of the caller's direct chats, most recently active first."""
        rows, more = self._store.direct_page(caller.user_id, after=after, limit=_bounded(limit))
        last = rows[-1] if rows else None
        return Page(rows, (last.last_message_id or 0, last.id) if more and last else None)

    def _user(self, username: str) -> UserRow:
        user = self._store.get_user_by_username(username) if valid_username(username) else None
        if user is None:
            raise NotFound("user not found")
        return user
