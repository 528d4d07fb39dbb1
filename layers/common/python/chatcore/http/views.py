"""Rows as the REST API shows them."""

from __future__ import annotations

from chatcore.http.models import (
    AuthResponse,
    ConversationOut,
    GroupOut,
    LastMessageOut,
    MemberOut,
    ProfileOut,
    UserBrief,
)
from chatcore.rows import Conversation, MemberRow, RoomSummary, UserRow
from chatcore.service.accounts import Session


def profile_view(user: UserRow) -> ProfileOut:
    return ProfileOut(
        id=user.id,
        username=user.username,
        nickname=user.nickname,
        avatar=user.avatar,
        email=user.email,
        created_at=user.created_at,
    )


def session_view(session: Session) -> AuthResponse:
    return AuthResponse(token=session.token, expires_in=session.expires_in, user=profile_view(session.user))


def group_view(room: RoomSummary) -> GroupOut:
    return GroupOut(
        id=room.id,
        name=room.name,
        private=room.private,
        kind=room.kind,
        created_at=room.created_at,
        member_count=room.member_count,
        is_member=room.role is not None,
        role=room.role,
        unread=room.unread,
        description=room.description,
    )


def member_view(member: MemberRow) -> MemberOut:
    return MemberOut(id=member.id, username=member.username, nickname=member.nickname, role=member.role)


def conversation_view(row: Conversation) -> ConversationOut:
    other = (
        UserBrief(id=row.other_id, username=row.other_username, nickname=row.other_nickname)
        if row.other_id is not None and row.other_username is not None
        else None
    )
    last = (
        LastMessageOut(
            id=row.last_message_id,
            sender=row.last_sender or "",
            text=row.last_text or "",
            ts=int(row.last_at.timestamp() * 1000),
            deleted=row.last_deleted,
        )
        if row.last_message_id is not None and row.last_at is not None
        else None
    )
    name = (other.nickname or other.username) if other is not None else row.name
    return ConversationOut(
        id=row.id,
        kind=row.kind,
        name=name,
        private=row.private,
        description=row.description,
        other=other,
        unread=row.unread,
        mentions=row.mentions,
        last_message=last,
    )
