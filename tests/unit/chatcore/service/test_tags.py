"""Tags over real PostgreSQL: normalised names, conflicts, most used first."""

from __future__ import annotations

import pytest
from chatcore.errors import Conflict, NotFound
from chatcore.fields import normalize_tag
from chatcore.passwords import hash_password
from chatcore.postgres.store import ChatStore
from chatcore.service.tags import TagService
from chatcore.tokens import Identity


@pytest.mark.parametrize(
    ("raw", "stored"),
    [
        ("Rock", "rock"),
        ("  Jazz Fusion  ", "jazz fusion"),
        ("C++", "c++"),
        ("ÉTÉ", "été"),
        ("x" * 32, "x" * 32),
        ("x" * 33, None),
        ("   ", None),
        ("a/b", None),
        ("a?b", None),
        ("a#b", None),
        ("100%", None),
        ("tab\there", None),
    ],
)
def test_normalize_tag(raw: str, stored: str | None) -> None:
    """Tags are trimmed and lower-cased, 1 to 32 characters, without characters that break a URL path."""
    assert normalize_tag(raw) == stored


def test_add_list_remove_and_count(store: ChatStore) -> None:
    """Each user's tags are their own; counts across users come most used first, then by name."""
    tags = TagService(store)
    users = [Identity(store.create_user(n, hash_password("pw-for-tests")).id, n) for n in ("ann", "ben", "cat")]
    for user, names in zip(users, (["rock", "pop"], ["rock", "jazz"], ["jazz", "rock"]), strict=True):
        for name in names:
            assert tags.add(user, name) == name

    with pytest.raises(Conflict):
        tags.add(users[0], "rock")
    assert tags.mine(users[0]) == ["pop", "rock"]
    assert [(t.tag_name, t.uses) for t in tags.most_used()] == [("rock", 3), ("jazz", 2), ("pop", 1)]
    assert [t.tag_name for t in tags.most_used(limit=0)] == ["rock"]  # clamped to at least one

    tags.remove(users[0], " ROCK ")
    assert tags.mine(users[0]) == ["pop"]
    with pytest.raises(NotFound):
        tags.remove(users[0], "rock")
    with pytest.raises(NotFound):
        tags.remove(users[0], "not/a/tag")
