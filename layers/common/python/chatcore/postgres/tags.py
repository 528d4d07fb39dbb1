"""User tags."""

from __future__ import annotations

from chatcore.postgres.database import Database
from chatcore.rows import TagCount


class TagQueries:
    _db: Database

    def list_tags(self, user_id: int) -> list[str]:
        rows = self._db.values("SELECT tag_name FROM user_tags WHERE user_id = %s ORDER BY tag_name", (user_id,))
        return [r[0] for r in rows]

    def top_tags(self, limit: int) -> list[TagCount]:
        return self._db.all(
            TagCount,
            "SELECT tag_name, count(*)::int AS uses FROM user_tags GROUP BY tag_name"
            " ORDER BY count(*) DESC, tag_name LIMIT %s",
            (limit,),
        )

    def count_tags(self, user_id: int) -> int:
        return int(self._db.values("SELECT count(*) FROM user_tags WHERE user_id = %s", (user_id,))[0][0])

    def add_tag(self, user_id: int, tag_name: str) -> bool:
        """Tag the user; False if the tag was already there."""
        return (
            self._db.execute(
                "INSERT INTO user_tags (user_id, tag_name) VALUES (%s, %s) ON CONFLICT DO NOTHING", (user_id, tag_name)
            )
            > 0
        )

    def remove_tag(self, user_id: int, tag_name: str) -> bool:
        return self._db.execute("DELETE FROM user_tags WHERE user_id = %s AND tag_name = %s", (user_id, tag_name)) > 0
