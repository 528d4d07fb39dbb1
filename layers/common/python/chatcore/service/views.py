"""Rows as the wire shows them: the protocol's message, room and member models, for WebSocket and REST."""

from __future__ import annotations

from collections.abc import Iterable

from chatcore.protocol import ChatMessage, Member, RoomInfo, UserInfo, encode
from chatcore.rows import MemberRow, MessageRow, RoomRow


def message_view(row: MessageRow) -> ChatMessage:
    return ChatMessage(
        id=row.id,
        room_id=row.room_id,
        sender_id=row.user_id,
        sender=row.username,
        text=row.content,
        ts=row.ts,
        client_msg_id=row.client_msg_id,
    )


def room_view(room: RoomRow, other: UserInfo | None = None) -> RoomInfo:
    """The room as the protocol shows it; ``other`` is the other member of a direct chat (as the viewer sees it)."""
    return RoomInfo(
        id=room.id,
        name=room.name,
        private=room.private,
        kind=room.kind,
        description=room.description or None,
        other=other if room.kind == "direct" else None,
    )


def user_view(user_id: int, username: str, nickname: str | None) -> UserInfo:
    return UserInfo(id=user_id, username=username, nickname=nickname)


def member_views(members: Iterable[MemberRow], online_user_ids: set[int]) -> list[Member]:
    return [
        Member(
            id=m.id,
            username=m.username,
            nickname=m.nickname,
            online=m.id in online_user_ids,
            last_read_message_id=m.last_read_message_id,
        )
        for m in members
    ]


def newest_that_fit(messages: list[ChatMessage], budget: int) -> tuple[list[ChatMessage], bool]:
    """The newest of ``messages`` (oldest first) whose JSON fits in ``budget`` bytes, and whether any were cut.

    History pages are cut by encoded size, not only by count: 4,000 characters of text can take 24 KB as
    JSON (``\\u0001`` escapes to six bytes), so a count alone cannot keep a frame under API Gateway's limit.
    """
    kept: list[ChatMessage] = []
    used = 0
    for message in reversed(messages):
        size = len(encode(message)) + 1  # and the comma that separates it from the next
        if used + size > budget:
            break
        kept.append(message)
        used += size
    kept.reverse()
    return kept, len(kept) < len(messages)


def first_that_fit(members: list[Member], budget: int) -> tuple[list[Member], bool]:
    """The first of ``members`` whose JSON fits in ``budget`` bytes, and whether any were cut."""
    used = 0
    for count, member in enumerate(members):
        used += len(encode(member)) + 1
        if used > budget:
            return members[:count], True
    return members, False
