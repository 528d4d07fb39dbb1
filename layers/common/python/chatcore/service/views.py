"""Rows as the wire shows them: the protocol's message, room and member models, for WebSocket and REST."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

from chatcore.protocol.base import encode
from chatcore.protocol.server import (
    AttachmentInfo,
    ChatMessage,
    Member,
    ReactionCount,
    ReplyRef,
    RoomInfo,
    UserInfo,
)

if TYPE_CHECKING:
    from chatcore.rows import MemberRow, MessageRow, RoomRow

Part = TypeVar("Part", Member, ChatMessage)


def _ms(moment: datetime | None) -> int | None:
    return int(moment.timestamp() * 1000) if moment is not None else None


def message_view(row: MessageRow) -> ChatMessage:
    """The message as both interfaces show it; empty lists and false flags are left out of the JSON."""
    reply = row.reply
    return ChatMessage(
        id=row.id,
        room_id=row.room_id,
        sender_id=row.user_id,
        sender=row.username,
        text=row.content,
        ts=row.ts,
        client_msg_id=row.client_msg_id,
        rev=row.rev or None,
        edited_at=_ms(row.edited_at),
        deleted=True if row.deleted_at is not None else None,
        reply_to=(
            ReplyRef(
                id=reply["id"],
                sender=reply["sender"],
                text="" if reply["deleted"] else reply["text"],
                deleted=True if reply["deleted"] else None,
            )
            if reply
            else None
        ),
        mentions=list(row.mentions) or None,
        attachments=[AttachmentInfo.model_validate(a) for a in row.attachments] or None,
        reactions=reaction_views(row.reactions) or None,
    )


def reaction_views(reactions: Iterable[dict[str, Any]]) -> list[ReactionCount]:
    return [ReactionCount.model_validate(r) for r in reactions]


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


def first_that_fit(items: list[Part], budget: int) -> tuple[list[Part], bool]:
    """The first of ``items`` whose JSON fits in ``budget`` bytes, and whether any were cut."""
    used = 0
    for count, item in enumerate(items):
        used += len(encode(item)) + 1
        if used > budget:
            return items[:count], True
    return items, False
