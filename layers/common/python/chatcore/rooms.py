"""Groups and direct chats over REST, with the same access rules as the WebSocket side.

Who may do what (the WebSocket side follows :mod:`chatcore.access` too):

* reading a group (details, members, history): any signed-in user for a public group, members only
  for a private group or a direct chat;
* adding members: the owner only; removing: the owner removes anyone but himself, a member removes
  himself (leaves); a direct chat's membership is fixed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from chatcore.access import can_read
from chatcore.auth import Identity
from chatcore.errors import ChatError, Conflict, Forbidden, NotFound
from chatcore.observability import logger
from chatcore.profiles import USERNAME_RE
from chatcore.protocol import DEFAULT_HISTORY_LIMIT, MAX_HISTORY_LIMIT
from chatcore.registry import ConnectionRegistry
from chatcore.store import ChatStore, DirectSummary, GroupRow, GroupSummary, MemberRow, MessageRow, Role, UserRow


class InvalidInput(ChatError):
    """A well-formed request that asks for something impossible (for example a chat with oneself)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


class RoomSubscriptions(Protocol):
    """Live WebSocket subscriptions, so a removed member stops receiving a room's frames at once."""

    def drop(self, room_id: int, user_id: int) -> None: ...


class RegistrySubscriptions:
    """:class:`RoomSubscriptions` over the DynamoDB connection registry.

    The registry comes from ``registry_factory`` on the first removal, so REST cold starts that never
    remove anyone do not pay for a DynamoDB client.
    """

    def __init__(self, registry_factory: Callable[[], ConnectionRegistry]) -> None:
        self._registry_factory = registry_factory
        self._registry: ConnectionRegistry | None = None

    def drop(self, room_id: int, user_id: int) -> None:
        if self._registry is None:
            self._registry = self._registry_factory()
        for connection in self._registry.room_connections(room_id):  # one Query on the by_room index
            if connection.user_id == user_id:
                self._registry.unsubscribe(connection.connection_id, room_id)


@dataclass(frozen=True, slots=True)
class GroupDetail:
    group: GroupSummary
    members: list[MemberRow]


@dataclass(frozen=True, slots=True)
class HistoryPage:
    messages: list[MessageRow]
    has_more: bool


@dataclass(frozen=True, slots=True)
class DirectChat:
    room: GroupRow
    other: UserRow


class RoomService:
    def __init__(self, store: ChatStore, subscriptions: RoomSubscriptions | None = None) -> None:
        self._store = store
        self._subscriptions = subscriptions

    # ------------------------------------------------------------ groups

    def list_groups(self, caller: Identity) -> list[GroupSummary]:
        """Public groups and the caller's private groups, with member counts and unread counts."""
        return self._store.list_groups(caller.user_id)

    def create_group(self, caller: Identity, name: str, *, private: bool) -> GroupSummary:
        """A new group owned by the caller."""
        group = self._store.create_group(name, private=private, created_by=caller.user_id)
        return GroupSummary(
            id=group.id,
            name=group.name,
            private=group.private,
            kind=group.kind,
            created_at=group.created_at,
            member_count=1,
            role="owner",
            unread=0,
        )

    def readable_group(self, caller: Identity, group_id: int) -> tuple[GroupRow, Role | None]:
        """The group and the caller's role if the caller may read it; :class:`NotFound`/:class:`Forbidden`."""
        group, role = self._store.get_group_and_role(group_id, caller.user_id)
        if group is None:
            raise NotFound("group not found")
        if not can_read(group, role):
            raise Forbidden("only members can see this group")
        return group, role

    def group_detail(self, caller: Identity, group_id: int) -> GroupDetail:
        """The group as the caller sees it, with its members."""
        self.readable_group(caller, group_id)
        summary = self._store.get_group_summary(group_id, caller.user_id)
        if summary is None:  # deleted in between
            raise NotFound("group not found")
        return GroupDetail(group=summary, members=self._store.list_members(group_id))

    def history(
        self, caller: Identity, group_id: int, *, before: int | None = None, limit: int = DEFAULT_HISTORY_LIMIT
    ) -> HistoryPage:
        """Up to ``limit`` messages (older than ``before`` if given), oldest first."""
        self.readable_group(caller, group_id)
        limit = min(max(limit, 1), MAX_HISTORY_LIMIT)
        if before is None:
            rows, has_more = self._store.latest_messages(group_id, limit)
        else:
            rows, has_more = self._store.messages_before(group_id, before, limit)
        return HistoryPage(messages=rows, has_more=has_more)

    # ------------------------------------------------------------ members

    def add_member(self, caller: Identity, group_id: int, username: str) -> MemberRow:
        """The owner adds ``username`` as a member."""
        group, role = self._store.get_group_and_role(group_id, caller.user_id)
        if group is None:
            raise NotFound("group not found")
        if group.kind == "direct":
            raise Forbidden("a direct chat's members cannot change")
        if role != "owner":
            raise Forbidden("only the group's owner can add members")
        user = self._user(username)
        if not self._store.add_member(group_id, user.id):
            raise Conflict("already a member of this group")
        return MemberRow(
            id=user.id, username=user.username, nickname=user.nickname, role="member", last_read_message_id=0
        )

    def remove_member(self, caller: Identity, group_id: int, username: str) -> None:
        """The owner removes a member, or a member leaves; live subscriptions of the removed user end too."""
        group, role = self._store.get_group_and_role(group_id, caller.user_id)
        if group is None:
            raise NotFound("group not found")
        if group.kind == "direct":
            raise Forbidden("a direct chat's members cannot change")
        leaving = username == caller.username
        if role == "owner":
            if leaving:
                raise Forbidden("the owner cannot leave the group")
        elif role == "member":
            if not leaving:
                raise Forbidden("only the group's owner can remove other members")
        elif not can_read(group, role):
            raise Forbidden("only members can see this group")
        elif not leaving:
            raise Forbidden("only the group's owner can remove members")
        target = caller.user_id if leaving else self._user(username).id
        if not self._store.remove_member(group_id, target):
            raise NotFound("not a member of this group")
        self._drop_subscriptions(group_id, target)

    def _drop_subscriptions(self, group_id: int, user_id: int) -> None:
        if self._subscriptions is None:
            return
        try:
            self._subscriptions.drop(group_id, user_id)
        except Exception:
            # Membership is already gone (every private action checks it); this only stops frames sooner.
            logger.exception("could not end the removed member's subscriptions", extra={"room_id": group_id})

    # ------------------------------------------------------------ direct chats

    def open_direct(self, caller: Identity, username: str) -> DirectChat:
        """The caller's 1:1 chat with ``username``: one room per pair, created on first request."""
        other = self._user(username)
        if other.id == caller.user_id:
            raise InvalidInput("username", "cannot start a direct chat with yourself")
        return DirectChat(room=self._store.get_or_create_direct(caller.user_id, other.id), other=other)

    def list_direct(self, caller: Identity) -> list[DirectSummary]:
        """The caller's direct chats, most recently active first."""
        return self._store.list_direct(caller.user_id)

    def _user(self, username: str) -> UserRow:
        user = self._store.get_user_by_username(username) if USERNAME_RE.fullmatch(username) else None
        if user is None:
            raise NotFound("user not found")
        return user
