"""REST groups: listing, creating, details with members, adding and removing members, history pages."""

from __future__ import annotations

from typing import Any

import pytest
from chatcore.tokens import Identity

from tests.unit.chatcore.http.rest_support import Rest, assert_error, assert_invalid

GROUP_FIELDS = {
    "id",
    "name",
    "private",
    "kind",
    "createdAt",
    "memberCount",
    "isMember",
    "role",
    "unread",
    "description",
}


class World:
    """alice owns a public and a private group, bob is a member of both, carol of neither; a-b direct chat."""

    def __init__(self, rest: Rest) -> None:
        self.rest = rest
        self.alice, self.bob, self.carol = rest.user("alice"), rest.user("bob"), rest.user("carol")
        store = rest.store
        self.public = store.create_group("lobby", private=False, created_by=self.alice.user_id).id
        self.private = store.create_group("secret", private=True, created_by=self.alice.user_id).id
        for group in (self.public, self.private):
            store.add_member(group, self.bob.user_id)
        self.direct = store.get_or_create_direct(self.alice.user_id, self.bob.user_id).id

    def call(self, who: Identity | None, method: str, path: str, body: Any = None, **kwargs: Any) -> Any:
        token = self.rest.token(who) if who is not None else None
        if body is None:
            return self.rest.call(method, path, token=token, **kwargs)
        return self.rest.call(method, path, body, token=token, **kwargs)

    def members(self, group_id: int) -> list[str]:
        return [m.username for m in self.rest.store.list_members(group_id)]


@pytest.fixture
def world(rest: Rest) -> World:
    return World(rest)


# ---------------------------------------------------------------- GET /groups


def test_list_groups_shows_public_and_own_private_groups_with_counts(world: World) -> None:
    """Public groups for everyone, private ones for members; member counts, membership, role; no direct chats."""
    store = world.rest.store
    store.create_group("other secret", private=True, created_by=world.carol.user_id)

    as_bob = world.call(world.bob, "GET", "/groups").body["groups"]
    as_carol = world.call(world.carol, "GET", "/groups").body["groups"]

    assert [(g["name"], g["memberCount"], g["isMember"], g["role"]) for g in as_bob] == [
        ("lobby", 2, True, "member"),
        ("secret", 2, True, "member"),
    ]
    assert [(g["name"], g["isMember"], g["role"]) for g in as_carol] == [
        ("lobby", False, None),
        ("other secret", True, "owner"),
    ]
    assert all(set(g) == GROUP_FIELDS and g["kind"] == "group" for g in as_bob + as_carol)


def test_list_groups_counts_unread_messages_from_others(world: World) -> None:
    """``unread`` counts others' messages after the caller's read marker; own messages never count."""
    store = world.rest.store
    first = store.save_message(world.public, world.alice.user_id, "one", None).message
    store.save_message(world.public, world.alice.user_id, "two", None)
    store.save_message(world.public, world.bob.user_id, "mine", None)
    store.mark_read(world.public, world.bob.user_id, first.id)

    lobby = next(g for g in world.call(world.bob, "GET", "/groups").body["groups"] if g["id"] == world.public)
    assert lobby["unread"] == 1


# ---------------------------------------------------------------- POST /groups


def test_create_group_makes_the_caller_owner(world: World) -> None:
    """``POST /groups`` answers 201 with the group; the creator is its only member, as owner."""
    reply = world.call(world.carol, "POST", "/groups", {"name": "  book club ", "private": True})

    assert reply.status == 201, reply
    assert set(reply.body) == GROUP_FIELDS
    assert {k: reply.body[k] for k in ("name", "private", "kind", "memberCount", "isMember", "role", "unread")} == {
        "name": "book club",
        "private": True,
        "kind": "group",
        "memberCount": 1,
        "isMember": True,
        "role": "owner",
        "unread": 0,
    }
    assert world.rest.store.room_and_role(reply.body["id"], world.carol.user_id)[1] == "owner"
    public = world.call(world.carol, "POST", "/groups", {"name": "open"})
    assert public.status == 201 and public.body["private"] is False


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "name"),
        ({"name": ""}, "name"),
        ({"name": "   "}, "name"),
        ({"name": "x" * 81}, "name"),
        ({"name": "bell\x07"}, "name"),
        ({"name": "lobby\u202e"}, "name"),
        ({"name": "zero\u200bwidth"}, "name"),
        ({"name": "c1\x9bcontrol"}, "name"),
        ({"name": "a\u0301\u0301\u0301\u0301\u0301"}, "name"),
        ({"name": "ok", "private": "perhaps"}, "private"),
        ({"name": "ok", "owner": "bob"}, "owner"),
    ],
)
def test_create_group_invalid_body_is_refused(world: World, body: dict[str, Any], field: str) -> None:
    """A missing, blank, too long, control, format-character or Zalgo name, or an unknown field: 422 naming it."""
    assert_invalid(world.call(world.carol, "POST", "/groups", body), field)
    assert world.call(world.carol, "GET", "/groups").body["groups"][-1]["name"] == "lobby"


# ---------------------------------------------------------------- GET /groups/{id}


def test_group_detail_lists_members_with_roles(world: World) -> None:
    """A member sees the group with its members and their roles."""
    reply = world.call(world.bob, "GET", f"/groups/{world.private}")
    assert reply.status == 200
    assert set(reply.body) == GROUP_FIELDS | {"members", "membersNext"}
    assert (reply.body["name"], reply.body["role"], reply.body["memberCount"]) == ("secret", "member", 2)
    assert reply.body["members"] == [
        {"id": world.alice.user_id, "username": "alice", "nickname": None, "role": "owner"},
        {"id": world.bob.user_id, "username": "bob", "nickname": None, "role": "member"},
    ]


def test_public_group_detail_is_visible_to_non_members(world: World) -> None:
    """Anyone signed in sees a public group (not a member: isMember false, role null)."""
    reply = world.call(world.carol, "GET", f"/groups/{world.public}")
    assert reply.status == 200
    assert (reply.body["isMember"], reply.body["role"], len(reply.body["members"])) == (False, None, 2)


def test_direct_chat_detail_is_visible_to_its_two_members(world: World) -> None:
    """A direct chat reads as kind "direct", private, with its two members."""
    reply = world.call(world.bob, "GET", f"/groups/{world.direct}")
    assert reply.status == 200
    assert (reply.body["kind"], reply.body["private"], reply.body["memberCount"]) == ("direct", True, 2)


@pytest.mark.parametrize("which", ["private", "direct"])
def test_private_group_and_direct_chat_are_forbidden_to_non_members(world: World, which: str) -> None:
    """A non-member gets 403 for a private group or someone else's direct chat."""
    group_id = getattr(world, which)
    assert_error(world.call(world.carol, "GET", f"/groups/{group_id}"), 403)
    assert_error(world.call(world.carol, "GET", f"/groups/{group_id}/messages"), 403)


def test_unknown_group_is_not_found(world: World) -> None:
    """A group id that does not exist answers 404 on every group route."""
    for method, path, body in (
        ("GET", "/groups/999999", None),
        ("GET", "/groups/999999/messages", None),
        ("POST", "/groups/999999/members", {"username": "carol"}),
        ("DELETE", "/groups/999999/members/carol", None),
    ):
        assert_error(world.call(world.alice, method, path, body), 404, "group not found")


@pytest.mark.parametrize("group_id", ["abc", "0", "-1", "1.5", str(2**63), "99999999999999999999999"])
def test_malformed_group_id_is_invalid(world: World, group_id: str) -> None:
    """A group id that is not a positive 64-bit integer answers 422 naming ``group_id``."""
    assert_invalid(world.call(world.alice, "GET", f"/groups/{group_id}"), "group_id")
    assert_invalid(world.call(world.alice, "GET", f"/groups/{group_id}/messages"), "group_id")


# ---------------------------------------------------------------- POST /groups/{id}/members


@pytest.mark.parametrize("which", ["private", "public"])
def test_owner_adds_a_member(world: World, which: str) -> None:
    """The owner adds a user (201 with the new member); the user then belongs to the group."""
    group_id = getattr(world, which)
    reply = world.call(world.alice, "POST", f"/groups/{group_id}/members", {"username": "carol"})
    assert reply.status == 201, reply
    assert reply.body == {"id": world.carol.user_id, "username": "carol", "nickname": None, "role": "member"}
    assert world.members(group_id) == ["alice", "bob", "carol"]
    assert world.call(world.carol, "GET", f"/groups/{group_id}").status == 200


@pytest.mark.parametrize("who", ["bob", "carol"])
def test_only_the_owner_adds_members(world: World, who: str) -> None:
    """A member or a non-member adding someone gets 403; membership is unchanged."""
    world.rest.user("dave")
    for group_id in (world.public, world.private):
        reply = world.call(getattr(world, who), "POST", f"/groups/{group_id}/members", {"username": "dave"})
        assert_error(reply, 403)
        assert "dave" not in world.members(group_id)


def test_adding_to_a_direct_chat_is_forbidden(world: World) -> None:
    """A direct chat's membership is fixed: adding answers 403, even for its members."""
    assert_error(world.call(world.alice, "POST", f"/groups/{world.direct}/members", {"username": "carol"}), 403)
    assert world.members(world.direct) == ["alice", "bob"]


def test_adding_an_unknown_user_is_not_found(world: World) -> None:
    """Adding a username nobody has answers 404."""
    reply = world.call(world.alice, "POST", f"/groups/{world.private}/members", {"username": "nobody"})
    assert_error(reply, 404, "user not found")


def test_adding_an_existing_member_is_a_conflict(world: World) -> None:
    """Adding someone who already belongs answers 409; the owner too."""
    for username in ("bob", "alice"):
        reply = world.call(world.alice, "POST", f"/groups/{world.private}/members", {"username": username})
        assert_error(reply, 409)


@pytest.mark.parametrize(("body", "field"), [({}, "username"), ({"username": ""}, "username"), ({"user": "x"}, "user")])
def test_adding_with_an_invalid_body_is_refused(world: World, body: dict[str, Any], field: str) -> None:
    """An add-member body without a username answers 422 naming the field."""
    assert_invalid(world.call(world.alice, "POST", f"/groups/{world.private}/members", body), field)


# ---------------------------------------------------------------- DELETE /groups/{id}/members/{username}


@pytest.mark.parametrize("which", ["private", "public"])
def test_owner_removes_a_member(world: World, which: str) -> None:
    """The owner removes a member (204); the removed user loses access to a private group."""
    group_id = getattr(world, which)
    reply = world.call(world.alice, "DELETE", f"/groups/{group_id}/members/bob")
    assert reply.status == 204 and reply.body is None
    assert world.members(group_id) == ["alice"]
    expected = 403 if which == "private" else 200
    assert world.call(world.bob, "GET", f"/groups/{group_id}").status == expected


def test_member_leaves(world: World) -> None:
    """A member removes himself (leaves): 204, and the group is gone from his private list."""
    assert world.call(world.bob, "DELETE", f"/groups/{world.private}/members/bob").status == 204
    assert world.members(world.private) == ["alice"]
    assert [g["name"] for g in world.call(world.bob, "GET", "/groups").body["groups"]] == ["lobby"]


def test_owner_cannot_leave(world: World) -> None:
    """The owner removing himself answers 403: a group keeps its owner."""
    assert_error(world.call(world.alice, "DELETE", f"/groups/{world.private}/members/alice"), 403)
    assert world.members(world.private) == ["alice", "bob"]


def test_member_cannot_remove_others(world: World) -> None:
    """A member removing another member (the owner included) answers 403."""
    world.rest.store.add_member(world.public, world.carol.user_id)
    assert_error(world.call(world.bob, "DELETE", f"/groups/{world.public}/members/carol"), 403)
    assert_error(world.call(world.bob, "DELETE", f"/groups/{world.public}/members/alice"), 403)
    assert world.members(world.public) == ["alice", "bob", "carol"]


def test_non_member_cannot_remove_anyone(world: World) -> None:
    """A non-member removing a member answers 403 (public or private)."""
    for group_id in (world.public, world.private):
        assert_error(world.call(world.carol, "DELETE", f"/groups/{group_id}/members/bob"), 403)
        assert "bob" in world.members(group_id)


def test_removing_someone_who_is_not_a_member_is_not_found(world: World) -> None:
    """Removing a non-member, an unknown user, or leaving a public group one never joined: 404."""
    assert_error(world.call(world.alice, "DELETE", f"/groups/{world.private}/members/carol"), 404)
    assert_error(world.call(world.alice, "DELETE", f"/groups/{world.private}/members/nobody"), 404)
    assert_error(world.call(world.carol, "DELETE", f"/groups/{world.public}/members/carol"), 404)


def test_leaving_a_direct_chat_is_forbidden(world: World) -> None:
    """A direct chat's membership is fixed: removing or leaving answers 403."""
    assert_error(world.call(world.bob, "DELETE", f"/groups/{world.direct}/members/bob"), 403)
    assert_error(world.call(world.alice, "DELETE", f"/groups/{world.direct}/members/bob"), 403)
    assert world.members(world.direct) == ["alice", "bob"]


def test_removing_with_a_malformed_group_id_is_invalid(world: World) -> None:
    """A malformed group id in the removal path answers 422."""
    assert_invalid(world.call(world.alice, "DELETE", "/groups/x/members/bob"), "group_id")


# ---------------------------------------------------------------- GET /groups/{id}/messages


def _post(world: World, group_id: int, who: Identity, count: int) -> list[int]:
    return [
        world.rest.store.save_message(group_id, who.user_id, f"message {n}", f"c-{group_id}-{n}").message.id
        for n in range(count)
    ]


def test_history_pages_are_oldest_first_with_has_more(world: World) -> None:
    """History comes oldest first in the WebSocket message shape; ``before`` pages back; ``hasMore`` says more."""
    ids = _post(world, world.private, world.bob, 5)

    latest = world.call(world.alice, "GET", f"/groups/{world.private}/messages", query={"limit": "3"})
    assert latest.status == 200
    assert [m["id"] for m in latest.body["messages"]] == ids[2:]
    assert latest.body["hasMore"] is True
    first = latest.body["messages"][0]
    assert set(first) == {"id", "roomId", "senderId", "sender", "text", "ts", "clientMsgId", "rev"}
    assert (first["roomId"], first["senderId"], first["sender"], first["text"], first["clientMsgId"]) == (
        world.private,
        world.bob.user_id,
        "bob",
        "message 2",
        f"c-{world.private}-2",
    )
    assert isinstance(first["ts"], int)

    older = world.call(
        world.alice, "GET", f"/groups/{world.private}/messages", query={"before": str(ids[2]), "limit": "3"}
    )
    assert [m["id"] for m in older.body["messages"]] == ids[:2]
    assert older.body["hasMore"] is False


def test_history_defaults_to_fifty_and_allows_two_hundred(world: World) -> None:
    """Without ``limit`` a page holds 50 messages; ``limit=200`` is the largest page."""
    ids = _post(world, world.public, world.alice, 201)
    default = world.call(world.bob, "GET", f"/groups/{world.public}/messages").body
    assert [m["id"] for m in default["messages"]] == ids[-50:] and default["hasMore"] is True
    largest = world.call(world.bob, "GET", f"/groups/{world.public}/messages", query={"limit": "200"}).body
    assert [m["id"] for m in largest["messages"]] == ids[1:] and largest["hasMore"] is True


def test_public_history_is_readable_by_non_members(world: World) -> None:
    """Anyone signed in reads a public group's history."""
    ids = _post(world, world.public, world.alice, 2)
    reply = world.call(world.carol, "GET", f"/groups/{world.public}/messages")
    assert reply.status == 200 and [m["id"] for m in reply.body["messages"]] == ids


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"limit": "0"}, "limit"),
        ({"limit": "201"}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"before": "0"}, "before"),
        ({"before": "x"}, "before"),
        ({"before": str(2**64)}, "before"),
    ],
)
def test_history_with_invalid_paging_is_refused(world: World, query: dict[str, str], field: str) -> None:
    """A limit outside 1..200 or a malformed ``before`` answers 422 naming the parameter."""
    assert_invalid(world.call(world.alice, "GET", f"/groups/{world.public}/messages", query=query), field)


# ---------------------------------------------------------------- pages and caps


def test_group_lists_come_a_page_at_a_time_and_every_group_once(world: World) -> None:
    """``GET /groups`` pages by name with an opaque cursor; following ``next`` visits every group once."""
    for n in range(119):
        world.rest.store.create_group(f"g{n:03}", private=False, created_by=world.carol.user_id)
    names: list[str] = []
    cursor = None
    pages = 0
    while True:
        query = {"limit": "50"} | ({"cursor": cursor} if cursor else {})
        body = world.call(world.bob, "GET", "/groups", query=query).body
        names += [g["name"] for g in body["groups"]]
        pages += 1
        cursor = body["next"]
        if cursor is None:
            break
    assert pages == 3  # 119 + lobby + secret = 121 groups
    assert names == sorted(names) and len(names) == len(set(names)) == 121
    mine = world.call(world.bob, "GET", "/groups", query={"mine": "true"}).body
    assert [g["name"] for g in mine["groups"]] == ["lobby", "secret"] and mine["next"] is None


@pytest.mark.parametrize("cursor", ["not-a-cursor", "WyJ4Il0", "e30", "W251bGwsIG51bGxd"])
def test_a_cursor_the_api_did_not_give_is_invalid(world: World, cursor: str) -> None:
    """A malformed or foreign cursor answers 422 naming ``cursor``."""
    assert_invalid(world.call(world.bob, "GET", "/groups", query={"cursor": cursor}), "cursor")


def test_members_come_a_page_at_a_time(world: World) -> None:
    """A group's members: the first page with its details, then ``/members`` pages until ``next`` is null."""
    for n in range(130):
        world.rest.store.add_member(world.public, world.rest.user(f"member{n:03}").user_id)
    detail = world.call(world.bob, "GET", f"/groups/{world.public}").body
    names = [m["username"] for m in detail["members"]]
    cursor = detail["membersNext"]
    assert len(names) == 100 and cursor
    while cursor:
        page = world.call(world.bob, "GET", f"/groups/{world.public}/members", query={"cursor": cursor}).body
        names += [m["username"] for m in page["members"]]
        cursor = page["next"]
    assert names == sorted(["alice", "bob"] + [f"member{n:03}" for n in range(130)])
    assert_error(world.call(world.carol, "GET", f"/groups/{world.private}/members"), 403)


def test_an_account_creates_at_most_twenty_groups_an_hour(world: World) -> None:
    """The 21st group within an hour answers 429 with Retry-After; an hour later creating works again."""
    for n in range(20):
        assert world.call(world.carol, "POST", "/groups", {"name": f"mine {n}"}).status == 201
    refused = world.call(world.carol, "POST", "/groups", {"name": "one too many"})
    assert_error(refused, 429)
    assert "20 new groups an hour" in refused.body["message"] and int(refused.headers["Retry-After"]) > 0
    assert world.call(world.bob, "POST", "/groups", {"name": "bob's own"}).status == 201  # others unaffected
    world.rest.store._db.execute("UPDATE rooms SET created_at = created_at - interval '61 minutes'")
    assert world.call(world.carol, "POST", "/groups", {"name": "next hour"}).status == 201


def test_conversations_count_unread_mentions_apart_and_mark_a_deleted_last_message(world: World) -> None:
    """Unread messages that mention the caller count in ``mentions`` (read ones and deleted ones do not, and a
    deleted message is not unread); a deleted latest message previews as deleted with no text."""
    store = world.rest.store
    bob = world.bob.user_id
    first = store.save_message(world.public, world.alice.user_id, "@bob one", None, mention_ids=[bob]).message
    store.save_message(world.public, world.alice.user_id, "@bob two", None, mention_ids=[bob])
    gone = store.save_message(world.public, world.alice.user_id, "@bob three", None, mention_ids=[bob]).message
    store.save_message(world.public, world.alice.user_id, "no mention", None)
    store.mark_read(world.public, bob, first.id)
    last = store.save_message(world.private, world.alice.user_id, "to be deleted", None).message
    store.delete_message(world.public, gone.id)
    store.delete_message(world.private, last.id)

    listed = {c["id"]: c for c in world.call(world.bob, "GET", "/conversations").body["conversations"]}
    assert (listed[world.public]["mentions"], listed[world.public]["unread"]) == (1, 2)
    assert listed[world.private]["lastMessage"]["deleted"] is True
    assert listed[world.private]["lastMessage"]["text"] == ""


def test_conversations_list_every_room_of_the_caller_by_activity_with_previews(world: World) -> None:
    """``GET /conversations``: groups and direct chats of the caller, latest activity first, unread and preview."""
    store = world.rest.store
    store.save_message(world.private, world.alice.user_id, "older news in secret", None)
    latest = store.save_message(world.direct, world.alice.user_id, "x" * 300, None).message
    body = world.call(world.bob, "GET", "/conversations").body
    rows = [(c["id"], c["kind"], c["name"], c["unread"]) for c in body["conversations"]]
    assert rows == [
        (world.direct, "direct", "alice", 1),
        (world.private, "group", "secret", 1),
        (world.public, "group", "lobby", 0),
    ]
    first = body["conversations"][0]
    assert first["other"]["username"] == "alice"
    assert first["lastMessage"] == {
        "id": latest.id,
        "sender": "alice",
        "text": "x" * 140,
        "ts": latest.ts,
        "deleted": False,
    }
    assert body["conversations"][2].get("lastMessage") is None and body["next"] is None
    assert [c["id"] for c in world.call(world.carol, "GET", "/conversations").body["conversations"]] == []
