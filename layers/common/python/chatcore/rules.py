"""Who may do what in a room, and the per-connection rate limits: the one rule set of REST and WebSocket.

* **read** (details, members, history, ``join``): members of any room; anyone signed in for a public group;
* **write** (post, type, mark read): members only; joining a public group makes the caller a member;
* **manage** (add members): a group's owner; a direct chat's two members are fixed;
* **own** (rename, describe, delete, hand over): a group's owner;
* **remove**: the owner removes anyone but himself; a member removes only himself (leaves).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

from chatcore.errors import Forbidden

if TYPE_CHECKING:
    from chatcore.rows import Role, RoomRow


def can_read(room: RoomRow, role: Role | None) -> bool:
    """Members read everything; anyone signed in reads a public group."""
    return role is not None or (room.kind == "group" and not room.private)


def can_write(role: Role | None) -> bool:
    """Only members post, mark read or type."""
    return role is not None


def check_manage(room: RoomRow, role: Role | None) -> None:
    """:class:`Forbidden` unless the caller may add members to ``room``."""
    if room.kind == "direct":
        raise Forbidden("a direct chat's members cannot change")
    if role != "owner":
        raise Forbidden("only the group's owner can add members")


def check_owner(room: RoomRow, role: Role | None) -> None:
    """:class:`Forbidden` unless the caller owns the group (rename, describe, delete, hand over)."""
    if room.kind == "direct":
        raise Forbidden("a direct chat has no owner")
    if role != "owner":
        raise Forbidden("only the group's owner can do that")


def check_remove(room: RoomRow, role: Role | None, *, leaving: bool) -> None:
    """:class:`Forbidden` unless the caller may remove the member (``leaving``: the caller himself)."""
    if room.kind == "direct":
        raise Forbidden("a direct chat's members cannot change")
    if role == "owner":
        if leaving:
            raise Forbidden("the owner cannot leave the group")
        return
    if role == "member":
        if not leaving:
            raise Forbidden("only the group's owner can remove other members")
        return
    if not can_read(room, role):
        raise Forbidden("only members can see this group")
    if not leaving:
        raise Forbidden("only the group's owner can remove members")


def direct_key(user_a: int, user_b: int) -> str:
    """The unique key of the 1:1 room between two users, the same whichever side asks."""
    low, high = sorted((user_a, user_b))
    return f"{low}:{high}"


RATE_WINDOW_SECONDS = 10

DEFAULT_TOKEN_TTL_SECONDS = 12 * 3600
"""How long a session token is valid (``TOKEN_TTL_SECONDS`` changes it). Here, not in :mod:`chatcore.tokens`,
so the settings every function reads do not load the token service."""

MAX_MEMBERSHIPS = 500
"""Rooms (groups and direct chats) one user may belong to: each is a subscription written at ``$connect``."""

PRESENCE_ROOM_SIZE = 100
"""Rooms up to this many members make their members each other's presence contacts (direct chats always)."""

PRESENCE_CONTACTS = 1000
"""At most this many users hear one user's ``presence``; larger audiences see it in member lists."""

DEFAULT_MAX_WORKERS = 32
"""Management API posts one function runs at once (``BROADCAST_MAX_WORKERS`` changes it)."""

DEFAULT_POSTS_PER_SECOND = 5_000
"""The budget all fan-out workers share: half of API Gateway's default account throttle (10,000 requests a
second per region, shared by every API of the account), which leaves room for the rest of the chat."""

LARGE_ROOM = 1000
"""Rooms of more members are *large* (``FANOUT_LARGE_ROOM`` changes it): their deliveries go through the
fan-out queue, and they get no typing indicators and no read receipts but the reader's own tabs (each would
be a fan-out to the whole room)."""


# Named tuples, not frozen dataclasses, as chatcore.rows' rows: every function defines them on its cold start.
class RateLimits(NamedTuple):
    """Per-connection limits per rate window of :data:`RATE_WINDOW_SECONDS`."""

    frames: int = 120
    messages: int = 50
    typing: int = 5

    def describe(self) -> str:
        return f"{self.messages} messages and {self.frames} frames per {RATE_WINDOW_SECONDS} seconds"


class Quotas(NamedTuple):
    """What one account may create or hold, so nobody can fill the database or everyone's lists.

    Connections open at once are capped at ``$connect`` (``MAX_CONNECTIONS_PER_USER``); messages and frames
    per connection by :class:`RateLimits`.
    """

    memberships: int = MAX_MEMBERSHIPS
    groups_per_hour: int = 20
    direct_chats_per_hour: int = 60
    tags: int = 30
    uploads_per_hour: int = 100
    window_seconds: int = 3600
