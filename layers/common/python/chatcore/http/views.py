"""Rows as the REST API shows them."""

from __future__ import annotations

from chatcore.http.models import AuthResponse, GroupOut, MemberOut, ProfileOut
from chatcore.rows import MemberRow, RoomSummary, UserRow
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
    )


def member_view(member: MemberRow) -> MemberOut:
    return MemberOut(id=member.id, username=member.username, nickname=member.nickname, role=member.role)
