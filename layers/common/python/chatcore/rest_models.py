"""Request and response bodies of the REST API (validated by Powertools' resolver)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

Username = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.-]{3,32}$")]
# Password policy: 8 to 128 characters, not all of one kind of character is enforced by length alone.
Password = Annotated[str, StringConstraints(min_length=8, max_length=128)]
GroupName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=80)]
Nickname = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40)]
Email = Annotated[str, StringConstraints(pattern=r"^[^@\s]{1,64}@[^@\s]{1,255}\.[^@\s]{1,63}$", max_length=254)]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class _Out(BaseModel):
    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)


class RegisterRequest(_In):
    username: Username
    password: Password
    email: Email | None = None
    nickname: Nickname | None = None


class LoginRequest(_In):
    username: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    password: Annotated[str, StringConstraints(min_length=1, max_length=128)]


class UserOut(_Out):
    id: int
    username: str
    nickname: str | None = None
    avatar: str | None = None


class ProfileOut(UserOut):
    email: str | None = None
    created_at: datetime = Field(alias="createdAt")


class AuthResponse(_Out):
    token: str
    token_type: Literal["Bearer"] = Field(default="Bearer", alias="tokenType")
    expires_in: int = Field(alias="expiresIn")
    user: ProfileOut


class CreateGroupRequest(_In):
    name: GroupName
    private: bool = False


class GroupOut(_Out):
    id: int
    name: str
    private: bool
    kind: Literal["group", "direct"]
    created_at: datetime = Field(alias="createdAt")
    member_count: int = Field(alias="memberCount")
    is_member: bool = Field(alias="isMember")
    role: Literal["owner", "member"] | None = None
    unread: int = 0


class ErrorOut(_Out):
    statusCode: int
    message: str
