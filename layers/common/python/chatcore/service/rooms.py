"""Rooms over REST: groups (list, create, details, members, history) and direct chats.

Access follows :mod:`chatcore.rules`, the same rules the WebSocket side applies.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, NamedTuple

from chatcore.errors import Conflict, Forbidden, InvalidInput, LimitExceeded, NotFound
from chatcore.fields import DEFAULT_HISTORY_LIMIT, MAX_HISTORY_LIMIT, MEMBER_PAGE_SIZE, valid_username
from chatcore.observability import logger
from chatcore.rows import Conversation, DirectSummary, MemberRow, MessageRow, Page, Role, RoomRow, RoomSummary, UserRow
from chatcore.rules import Quotas, can_read, check_manage, check_owner, check_remove
from chatcore.service.live import LiveUpdates, members_if_small
from chatcore.service.views import room_view, user_view
from chatcore.tokens import Identity

if TYPE_CHECKING:
    from chatcore.ports import Store

PAGE_SIZE = 50
MAX_PAGE_SIZE = 100


def _bounded(limit: int) -> int:
    return min(max(limit, 1), MAX_PAGE_SIZE)


class RoomDetail(NamedTuple):
    room: RoomSummary
    members: Page[MemberRow]
    """The first page of members."""


class HistoryPage(NamedTuple):
    messages: list[MessageRow]
    has_more: bool


class DirectChat(NamedTuple):
    room: RoomRow
    other: UserRow


class RoomService:
    def __init__(
        self,
        store: Store,
        live: Callable[[], LiveUpdates] | None = None,
        quotas: Quotas | None = None,
    ) -> None:
        """``live`` builds the :class:`LiveUpdates` that bring membership changes to open connections; it is
        called on the first change, so a cold start that changes nothing pays for no AWS client."""
        self._store = store
        self._live_factory = live
        self._live_updates: LiveUpdates | None = None
        self._quotas = quotas or Quotas()

    def _live(self) -> LiveUpdates | None:
        if self._live_updates is None and self._live_factory is not None:
            try:
                self._live_updates = self._live_factory()
            except Exception:
                logger.exception("live updates unavailable: open connections will catch up at their next connect")
        return self._live_updates

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
        """The owner adds ``username`` as a member (lifting a removal); their open connections hear it at once."""
        room, role = self._store.room_and_role(room_id, caller.user_id)
        if room is None:
            raise NotFound("group not found")
        check_manage(room, role)
        user = self._user(username)
        self._check_room_for(user.id, "they are")
        if not self._store.add_member(room_id, user.id):
            raise Conflict("already a member of this group")
        self._store.unban(room_id, user.id)
        if (live := self._live()) is not None:
            live.member_added(
                room_view(room),
                user.id,
                user.username,
                shards=room.shards,
                member_ids=members_if_small(self._store, room_id),
            )
        return MemberRow(
            id=user.id, username=user.username, nickname=user.nickname, role="member", last_read_message_id=0
        )

    def remove_member(self, caller: Identity, room_id: int, username: str) -> None:
        """The owner removes a member (who may not join the group back alone), or a member leaves.

        The user's open connections stop hearing the room at once and are told (``room_removed``).
        """
        room, role = self._store.room_and_role(room_id, caller.user_id)
        if room is None:
            raise NotFound("group not found")
        leaving = username == caller.username
        check_remove(room, role, leaving=leaving)
        target = caller if leaving else Identity(self._user(username).id, username)
        if not self._store.remove_member(room_id, target.user_id):
            raise NotFound("not a member of this group")
        if not leaving:
            self._store.ban(room_id, target.user_id, by=caller.user_id)
        if (live := self._live()) is not None:
            live.member_removed(
                room_id,
                target.user_id,
                target.username,
                reason="left" if leaving else "removed",
                member_count=self._member_count(room_id),
                shards=room.shards,
            )

    def update_group(self, caller: Identity, room_id: int, *, name: str | None, description: str | None) -> RoomRow:
        """The owner renames the group or changes its description; its members' pages show it at once."""
        room = self._owned(caller, room_id)
        updated = self._store.update_group(room.id, name=name, description=description)
        if updated is None:  # deleted in between
            raise NotFound("group not found")
        if (live := self._live()) is not None:
            live.room_updated(updated, room_view(updated))
        return updated

    def delete_group(self, caller: Identity, room_id: int) -> None:
        """The owner deletes the group, its members and messages; members' pages are told it is gone."""
        room = self._owned(caller, room_id)
        self._store.delete_room(room.id)
        if (live := self._live()) is not None:
            live.room_deleted(room)

    def hand_over(self, caller: Identity, room_id: int, username: str) -> None:
        """The owner makes another member the owner, and stays a member (so may then leave)."""
        room = self._owned(caller, room_id)
        user = self._user(username)
        if user.id == caller.user_id or not self._store.transfer_owner(room.id, caller.user_id, user.id):
            raise Conflict("only another member of the group can become its owner")

    def _owned(self, caller: Identity, room_id: int) -> RoomRow:
        room, role = self._store.room_and_role(room_id, caller.user_id)
        if room is None:
            raise NotFound("group not found")
        check_owner(room, role)
        return room

    def _member_count(self, room_id: int) -> int:
        summary = self._store.room_summary(room_id, 0)
        return summary.member_count if summary else 0

    def _check_room_for(self, user_id: int, who: str) -> None:
        if self._store.membership_count(user_id) >= self._quotas.memberships:
            raise LimitExceeded(f"{who} in {self._quotas.memberships} rooms already", None)

    def conversations(
        self, caller: Identity, *, after: tuple[int, int] | None = None, limit: int = PAGE_SIZE
    ) -> Page[Conversation]:
        """A page of the caller's rooms, most recent activity first, with unread counts and the latest message."""
        rows, more = self._store.conversations_page(caller.user_id, after=after, limit=_bounded(limit))
        last = rows[-1] if rows else None
        return Page(rows, (last.last_message_id or 0, last.id) if more and last else None)

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
        self._check_room_for(caller.user_id, "you are")
        self._check_room_for(other.id, "they are")
        room = self._store.get_or_create_direct(caller.user_id, other.id)
        if (live := self._live()) is not None:
            me = self._user(caller.username)
            for member, seen in ((me, other), (other, me)):  # each side sees the other in ``room.other``
                info = room_view(room, user_view(seen.id, seen.username, seen.nickname))
                live.member_added(info, member.id, member.username, shards=room.shards, member_ids=[me.id, other.id])
        return DirectChat(room=room, other=other)

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
