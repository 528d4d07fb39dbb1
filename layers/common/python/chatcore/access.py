"""Who may read or write a room: the one rule shared by the WebSocket and REST sides."""

from __future__ import annotations

from chatcore.store import GroupRow, Role


def can_read(group: GroupRow, role: Role | None) -> bool:
    """Members read everything; anyone signed in reads a public group."""
    return role is not None or (group.kind == "group" and not group.private)


def can_write(role: Role | None) -> bool:
    """Only members post, mark read or type; joining a public group makes the caller a member."""
    return role is not None
