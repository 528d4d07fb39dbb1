"""Users: accounts, credentials, profiles and people search."""

from __future__ import annotations

from psycopg import errors as pg_errors

from chatcore.errors import Conflict, NotFound
from chatcore.fields import PROFILE_FIELDS
from chatcore.postgres.database import Database
from chatcore.rows import Credentials, PersonRow, UserRow

_USER_COLUMNS = "id, username, email, nickname, avatar, created_at"


class UserQueries:
    _db: Database

    def create_user(
        self, username: str, password_hash: str, *, email: str | None = None, nickname: str | None = None
    ) -> UserRow:
        """Insert a user; :class:`Conflict` if the username is taken."""
        try:
            row = self._db.one(
                UserRow,
                "INSERT INTO users (username, password_hash, email, nickname) VALUES (%s, %s, %s, %s)"  # noqa: S608 - a constant column list
                f" RETURNING {_USER_COLUMNS}",
                (username, password_hash, email, nickname),
            )
        except pg_errors.UniqueViolation:
            raise Conflict("username is taken") from None
        assert row is not None
        return row

    def get_user(self, user_id: int) -> UserRow | None:
        sql = f"SELECT {_USER_COLUMNS} FROM users WHERE id = %s"  # noqa: S608 - a constant column list
        return self._db.one(UserRow, sql, (user_id,))

    def get_user_by_username(self, username: str) -> UserRow | None:
        sql = f"SELECT {_USER_COLUMNS} FROM users WHERE username = %s"  # noqa: S608 - a constant column list
        return self._db.one(UserRow, sql, (username,))

    def username_taken(self, username: str) -> bool:
        """True when a user has this username in any letter case ("Alice" blocks "alice")."""
        return bool(self._db.values("SELECT 1 FROM users WHERE lower(username) = lower(%s) LIMIT 1", (username,)))

    def get_credentials(self, username: str) -> Credentials | None:
        return self._db.one(
            Credentials, "SELECT id, username, password_hash FROM users WHERE username = %s", (username,)
        )

    def update_profile(self, user_id: int, changes: dict[str, str | None]) -> UserRow:
        """Set any of the profile fields; other keys are refused."""
        if not set(changes) <= PROFILE_FIELDS:
            raise ValueError(f"cannot change {sorted(set(changes) - PROFILE_FIELDS)}")
        if changes:
            # Column names come from the fixed allow-list above; values are parameters.
            assignments = ", ".join(f"{column} = %({column})s" for column in sorted(changes))
            row = self._db.one(
                UserRow,
                f"UPDATE users SET {assignments} WHERE id = %(id)s RETURNING {_USER_COLUMNS}",  # noqa: S608
                {**changes, "id": user_id},
            )
        else:
            row = self.get_user(user_id)
        if row is None:
            raise NotFound("user not found")
        return row

    def search_people(
        self, prefix: str, *, limit: int, offset: int, exclude_user: int | None = None
    ) -> list[PersonRow]:
        """Users whose nickname or username starts with ``prefix`` (case-insensitive), by username."""
        return self._db.all(
            PersonRow,
            "SELECT id, username, nickname FROM users"
            " WHERE (lower(username) LIKE %(p)s OR lower(coalesce(nickname, '')) LIKE %(p)s)"
            " AND (%(ex)s::bigint IS NULL OR id <> %(ex)s::bigint)"
            " ORDER BY username LIMIT %(limit)s OFFSET %(offset)s",
            {"p": like_prefix(prefix), "ex": exclude_user, "limit": limit, "offset": offset},
        )


def like_prefix(prefix: str) -> str:
    """A LIKE pattern matching ``prefix`` literally (lower-cased), followed by anything."""
    escaped = prefix.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped + "%"
