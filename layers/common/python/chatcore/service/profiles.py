"""The caller's profile and other users' public profiles."""

from __future__ import annotations

from collections.abc import Mapping

from chatcore.errors import NotFound
from chatcore.fields import PROFILE_FIELDS, valid_username
from chatcore.ports import Users
from chatcore.rows import UserRow
from chatcore.tokens import Identity


class ProfileService:
    def __init__(self, store: Users) -> None:
        self._store = store

    def own(self, caller: Identity) -> UserRow:
        user = self._store.get_user(caller.user_id)
        if user is None:
            raise NotFound("user not found")
        return user

    def update(self, caller: Identity, changes: Mapping[str, str | None]) -> UserRow:
        """Set the given profile fields (``None`` clears one); fields not given stay as they are.

        :class:`~chatcore.errors.Conflict` for a nickname that is, or folds to, another user's username
        (:func:`chatcore.fields.fold_name`): the chat shows nicknames, so one must not pass for someone else.
        Your own username, or a nickname others have too, is fine (the UI shows the @username beside it).
        """
        unknown = set(changes) - PROFILE_FIELDS
        if unknown:
            raise ValueError(f"not profile fields: {sorted(unknown)}")
        return self._store.update_profile(caller.user_id, dict(changes))

    def by_username(self, username: str) -> UserRow:
        """A user by exact username; :class:`NotFound` for unknown or impossible names."""
        user = self._store.get_user_by_username(username) if valid_username(username) else None
        if user is None:
            raise NotFound("user not found")
        return user
