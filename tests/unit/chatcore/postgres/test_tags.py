"""User tags in PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable

from chatcore.postgres.store import ChatStore
from chatcore.rows import UserRow


def test_tags_add_once_list_remove_and_rank(store: ChatStore, user: Callable[..., UserRow]) -> None:
    """A tag is added once per user, listed sorted, removable, and ranked by how many users have it."""
    alice, bob = user("alice"), user("bob")
    assert store.add_tag(alice.id, "rust") is True
    assert store.add_tag(alice.id, "rust") is False
    store.add_tag(alice.id, "go")
    store.add_tag(bob.id, "rust")
    assert store.list_tags(alice.id) == ["go", "rust"]
    assert [(t.tag_name, t.uses) for t in store.top_tags(10)] == [("rust", 2), ("go", 1)]
    assert [t.tag_name for t in store.top_tags(1)] == ["rust"]
    assert store.remove_tag(alice.id, "go") is True
    assert store.remove_tag(alice.id, "go") is False
    assert store.list_tags(alice.id) == ["rust"]
