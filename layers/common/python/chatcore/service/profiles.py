"""The caller's profile and other users' public profiles."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from chatcore.errors import NotFound
from chatcore.fields import PROFILE_FIELDS, valid_username
from chatcore.observability import logger
from chatcore.service.views import user_view

if TYPE_CHECKING:
    from chatcore.ports import Users
    from chatcore.rows import UserRow
    from chatcore.service.live import LiveUpdates
    from chatcore.tokens import Identity


class ProfileService:
    def __init__(self, store: Users, live: Callable[[], LiveUpdates] | None = None) -> None:
        """``live`` builds what tells the user's open tabs of a change (on the first change only)."""
        self._store = store
        self._live_factory = live
        self._live: LiveUpdates | None = None

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
        user = self._store.update_profile(caller.user_id, dict(changes))
        if self._live is None and self._live_factory is not None:
            try:
                self._live = self._live_factory()
            except Exception:
                logger.exception("live updates unavailable: the user's other tabs show the change on reload")
        if self._live is not None:
            self._live.user_updated(user_view(user.id, user.username, user.nickname))
        return user

    def by_username(self, username: str) -> UserRow:
        """A user by exact username; :class:`NotFound` for unknown or impossible names."""
        user = self._store.get_user_by_username(username) if valid_username(username) else None
        if user is None:
            raise NotFound("user not found")
        return user
