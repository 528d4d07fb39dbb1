"""Groups and direct chats over REST, with the same access rules as the WebSocket side."""

from __future__ import annotations

from chatcore.access import can_read
from chatcore.auth import Identity
from chatcore.errors import Forbidden, NotFound
from chatcore.store import ChatStore, GroupRow, GroupSummary


class RoomService:
    def __init__(self, store: ChatStore) -> None:
        self._store = store

    def list_groups(self, caller: Identity) -> list[GroupSummary]:
        """Public groups and the caller's private groups, with member counts and unread counts."""
        return self._store.list_groups(caller.user_id)

    def create_group(self, caller: Identity, name: str, *, private: bool) -> GroupRow:
        """A new group owned by the caller."""
        return self._store.create_group(name, private=private, created_by=caller.user_id)

    def readable_group(self, caller: Identity, group_id: int) -> GroupRow:
        """The group if the caller may read it; :class:`NotFound` or :class:`Forbidden` otherwise."""
        group, role = self._store.get_group_and_role(group_id, caller.user_id)
        if group is None:
            raise NotFound("group not found")
        if not can_read(group, role):
            raise Forbidden("this group is private")
        return group
