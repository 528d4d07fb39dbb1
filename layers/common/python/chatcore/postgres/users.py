"""Users: accounts, credentials, profiles and people search.

Names that could pass for one another are refused here, under a lock per folded name
(:func:`chatcore.fields.fold_name`), so two racing requests cannot both take one: a username taken in any
letter case, a username that folds to another user's nickname, a nickname that folds to another user's
username. ``nickname_key`` holds each nickname's folded form for the lookup (migration 0005).
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import errors as pg_errors
from psycopg.rows import class_row

from chatcore.errors import Conflict, NotFound
from chatcore.fields import PROFILE_FIELDS, fold_name
from chatcore.postgres.database import Database
from chatcore.rows import Credentials, PersonRow, UserRow

_USER_COLUMNS = "id, username, email, nickname, avatar, created_at"

USERNAME_TAKEN = "username is taken"
USERNAME_IS_A_NICKNAME = "username is taken: another user goes by it as a nickname"
NICKNAME_IS_A_USERNAME = "nickname is taken: it is another user's username"

_NAME_LOCKS = 0x6E616D65  # "name": the advisory-lock namespace of folded names (apart from migrate's lock)


def _lock_names(conn: psycopg.Connection[Any], *keys: str | None) -> None:
    """Hold, until the transaction ends, one lock per folded name (in order, so two holders never deadlock)."""
    names = sorted({key for key in keys if key is not None})
    conn.execute(
        "SELECT pg_advisory_xact_lock(%s, hashtext(k)) FROM unnest(%s::text[]) AS k ORDER BY k", (_NAME_LOCKS, names)
    )


def _name_conflict(
    conn: psycopg.Connection[Any], *, username: str | None, nickname: str | None, user_id: int | None
) -> str | None:
    """Why ``username`` (for a new user) or ``nickname`` (of user ``user_id``, or of the new user) would pass
    for another user's name, or None."""
    row = conn.execute(
        "SELECT"
        " %(u)s::text IS NOT NULL AND EXISTS (SELECT 1 FROM users WHERE lower(username) = lower(%(u)s::text)),"
        " %(u)s::text IS NOT NULL AND EXISTS (SELECT 1 FROM users WHERE nickname_key = %(ukey)s::text),"
        " %(nkey)s::text IS NOT NULL AND EXISTS (SELECT 1 FROM users WHERE lower(username) = %(nkey)s::text"
        "   AND (%(me)s::bigint IS NULL OR id <> %(me)s::bigint))",
        {
            "u": username,
            "ukey": fold_name(username) if username is not None else None,
            "nkey": fold_name(nickname) if nickname is not None else None,
            "me": user_id,
        },
    ).fetchone()
    assert row is not None
    taken, username_is_nickname, nickname_is_username = row
    if taken:
        return USERNAME_TAKEN
    if username_is_nickname:
        return USERNAME_IS_A_NICKNAME
    if nickname_is_username:
        return NICKNAME_IS_A_USERNAME
    return None


class UserQueries:
    _db: Database

    def create_user(
        self, username: str, password_hash: str, *, email: str | None = None, nickname: str | None = None
    ) -> UserRow:
        """Insert a user; :class:`Conflict` if the username is taken or is another user's nickname, or the
        nickname is another user's username (all compared folded; see the module)."""
        nickname_key = fold_name(nickname) if nickname is not None else None

        def work(conn: psycopg.Connection[Any]) -> UserRow | None:
            _lock_names(conn, fold_name(username), nickname_key)
            problem = _name_conflict(conn, username=username, nickname=nickname, user_id=None)
            if problem:
                raise Conflict(problem)
            with conn.cursor(row_factory=class_row(UserRow)) as cur:
                cur.execute(
                    "INSERT INTO users (username, password_hash, email, nickname, nickname_key)"  # noqa: S608 - a constant column list
                    f" VALUES (%s, %s, %s, %s, %s) RETURNING {_USER_COLUMNS}",
                    (username, password_hash, email, nickname, nickname_key),
                )
                return cur.fetchone()

        try:
            row = self._db.transaction(work, idempotent=False)
        except pg_errors.UniqueViolation:
            raise Conflict(USERNAME_TAKEN) from None
        assert row is not None
        return row

    def get_user(self, user_id: int) -> UserRow | None:
        sql = f"SELECT {_USER_COLUMNS} FROM users WHERE id = %s"  # noqa: S608 - a constant column list
        return self._db.one(UserRow, sql, (user_id,))

    def get_user_by_username(self, username: str) -> UserRow | None:
        sql = f"SELECT {_USER_COLUMNS} FROM users WHERE username = %s"  # noqa: S608 - a constant column list
        return self._db.one(UserRow, sql, (username,))

    def name_conflict(self, username: str, nickname: str | None = None) -> str | None:
        """Why a new user could not have ``username`` (and ``nickname``), or None: a quick check before the
        password is hashed; :meth:`create_user` checks again under the names' locks."""
        return self._db.run(lambda conn: _name_conflict(conn, username=username, nickname=nickname, user_id=None))

    def get_credentials(self, username: str) -> Credentials | None:
        return self._db.one(
            Credentials, "SELECT id, username, password_hash FROM users WHERE username = %s", (username,)
        )

    def set_password_hash(self, user_id: int, password_hash: str) -> None:
        """Replace a user's password hash (a legacy hash upgraded at login)."""
        self._db.execute("UPDATE users SET password_hash = %s WHERE id = %s", (password_hash, user_id))

    def update_profile(self, user_id: int, changes: dict[str, str | None]) -> UserRow:
        """Set any of the profile fields; other keys are refused. :class:`Conflict` when a new nickname folds
        to another user's username."""
        if not set(changes) <= PROFILE_FIELDS:
            raise ValueError(f"cannot change {sorted(set(changes) - PROFILE_FIELDS)}")
        if not changes:
            row = self.get_user(user_id)
            if row is None:
                raise NotFound("user not found")
            return row
        values: dict[str, Any] = {**changes, "id": user_id}
        # Column names come from the fixed allow-list above (and the nickname's key); values are parameters.
        columns = sorted(changes)
        if "nickname" in changes:
            nickname = changes["nickname"]
            values["nickname_key"] = fold_name(nickname) if nickname is not None else None
            columns.append("nickname_key")
        assignments = ", ".join(f"{column} = %({column})s" for column in columns)

        def work(conn: psycopg.Connection[Any]) -> UserRow | None:
            nickname = changes.get("nickname")
            if nickname is not None:
                _lock_names(conn, values["nickname_key"])
                problem = _name_conflict(conn, username=None, nickname=nickname, user_id=user_id)
                if problem:
                    raise Conflict(problem)
            with conn.cursor(row_factory=class_row(UserRow)) as cur:
                cur.execute(
                    f"UPDATE users SET {assignments} WHERE id = %(id)s RETURNING {_USER_COLUMNS}",  # noqa: S608
                    values,
                )
                return cur.fetchone()

        row = self._db.transaction(work)
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


class AccountRemoval:
    _db: Database

    def delete_user(self, user_id: int) -> bool:
        """Delete the account: each group it owns goes to its longest-standing other member (a group with no
        other member goes with it); memberships, messages and tags go with the user."""

        def work(conn: psycopg.Connection[Any]) -> bool:
            conn.execute(
                """
                UPDATE room_members m SET role = 'owner'
                FROM (
                    SELECT DISTINCT ON (o.room_id) o.room_id, o.user_id
                    FROM room_members mine
                    JOIN room_members o ON o.room_id = mine.room_id AND o.user_id <> mine.user_id
                    WHERE mine.user_id = %(u)s AND mine.role = 'owner'
                    ORDER BY o.room_id, o.joined_at, o.user_id
                ) heir
                WHERE m.room_id = heir.room_id AND m.user_id = heir.user_id
                """,
                {"u": user_id},
            )
            conn.execute(
                "DELETE FROM rooms r WHERE r.kind = 'group'"
                " AND EXISTS (SELECT 1 FROM room_members me WHERE me.room_id = r.id AND me.user_id = %(u)s"
                "   AND me.role = 'owner')"
                " AND NOT EXISTS (SELECT 1 FROM room_members o WHERE o.room_id = r.id AND o.user_id <> %(u)s)",
                {"u": user_id},
            )
            return conn.execute("DELETE FROM users WHERE id = %s", (user_id,)).rowcount > 0

        return self._db.transaction(work)
