"""Who may do what, over REST and WebSocket, against the running local stack: one table, every cell checked.

Roles: ``owner`` (created the group; for a direct chat the side that opened it, which has no owner role),
``member``, ``non-member`` (signed in, not in the room) and ``anonymous`` (no token). Rooms: a public
group, a private group and a direct chat. Each case puts back what it changed, so users, rooms and one
WebSocket per role are made once for the module.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from websockets.exceptions import InvalidStatus

from tests.helpers.clients import Account, Api, ChatClient, before_marker
from tests.helpers.stack import StackProcess

ROLES = ("owner", "member", "non-member", "anonymous")

# (action, room): outcome for owner, member, non-member, anonymous.
# REST outcomes are HTTP statuses (True/False: the room is in the listing); WebSocket outcomes are the reply
# frame type or the error code, and "refused" when the connection itself is refused (HTTP 401 on upgrade).
MATRIX: list[tuple[str, str, tuple[object, object, object, object]]] = [
    ("GET /groups/{id}", "public", (200, 200, 200, 401)),
    ("GET /groups/{id}", "private", (200, 200, 403, 401)),
    ("GET /groups/{id}", "direct", (200, 200, 403, 401)),
    ("GET /groups/{id}/messages", "public", (200, 200, 200, 401)),
    ("GET /groups/{id}/messages", "private", (200, 200, 403, 401)),
    ("GET /groups/{id}/messages", "direct", (200, 200, 403, 401)),
    ("listed by GET /groups", "public", (True, True, True, 401)),
    ("listed by GET /groups", "private", (True, True, False, 401)),
    ("listed by GET /groups", "direct", (False, False, False, 401)),
    ("listed by GET /direct", "public", (False, False, False, 401)),
    ("listed by GET /direct", "private", (False, False, False, 401)),
    ("listed by GET /direct", "direct", (True, True, False, 401)),
    ("POST /groups/{id}/members (add a user)", "public", (201, 403, 403, 401)),
    ("POST /groups/{id}/members (add a user)", "private", (201, 403, 403, 401)),
    ("POST /groups/{id}/members (add a user)", "direct", (403, 403, 403, 401)),
    ("DELETE /groups/{id}/members/{other}", "public", (204, 403, 403, 401)),
    ("DELETE /groups/{id}/members/{other}", "private", (204, 403, 403, 401)),
    ("DELETE /groups/{id}/members/{other}", "direct", (403, 403, 403, 401)),
    ("DELETE /groups/{id}/members/{self} (leave)", "public", (403, 204, 404, 401)),
    ("DELETE /groups/{id}/members/{self} (leave)", "private", (403, 204, 403, 401)),
    ("DELETE /groups/{id}/members/{self} (leave)", "direct", (403, 403, 403, 401)),
    ("ws list", "public", ("list", "list", "list", "refused")),
    ("ws list", "private", ("list", "list", "forbidden", "refused")),
    ("ws list", "direct", ("list", "list", "forbidden", "refused")),
    ("ws history", "public", ("history", "history", "history", "refused")),
    ("ws history", "private", ("history", "history", "forbidden", "refused")),
    ("ws history", "direct", ("history", "history", "forbidden", "refused")),
    ("ws message", "public", ("message", "message", "forbidden", "refused")),
    ("ws message", "private", ("message", "message", "forbidden", "refused")),
    ("ws message", "direct", ("message", "message", "forbidden", "refused")),
    ("ws join", "public", ("joined", "joined", "joined", "refused")),
    ("ws join", "private", ("joined", "joined", "forbidden", "refused")),
    ("ws join", "direct", ("joined", "joined", "forbidden", "refused")),
]


@dataclass
class World:
    stack: StackProcess
    api: Api
    owner: Account
    member: Account
    outsider: Account
    extra: Account
    """A user nobody's room contains, for "add a user"."""
    rooms: dict[str, int]
    sockets: dict[str, ChatClient] = field(default_factory=dict)

    def account(self, role: str) -> Account | None:
        return {"owner": self.owner, "member": self.member, "non-member": self.outsider}.get(role)

    def rest(self, role: str, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        account = self.account(role)
        return self.api.call(method, path, body, account.token if account else None)

    def restore_member(self, room: str) -> None:
        """Put the member back after a case removed him (REST only; his socket re-joins when a case needs it)."""
        status, _ = self.rest(
            "owner", "POST", f"/groups/{self.rooms[room]}/members", {"username": self.member.username}
        )
        assert status == 201


@pytest.fixture(scope="module")
def world(stack: StackProcess) -> Iterator[World]:
    api = Api(stack.api_url)
    owner, member, outsider, extra = (api.register(role) for role in ("owner", "member", "outsider", "extra"))
    rooms = {
        "public": api.create_group(owner, "matrix public"),
        "private": api.create_group(owner, "matrix private", private=True),
    }
    status, direct = api.call("POST", "/direct", {"username": member.username}, owner.token)
    assert status == 200
    rooms["direct"] = direct["id"]
    for room in ("public", "private"):
        status, _ = api.call("POST", f"/groups/{rooms[room]}/members", {"username": member.username}, owner.token)
        assert status == 201
    world = World(stack, api, owner, member, outsider, extra, rooms)
    for role in ("owner", "member", "non-member"):
        account = world.account(role)
        assert account is not None
        world.sockets[role] = ChatClient(stack.ws_url, account.token)
    yield world
    for client in world.sockets.values():
        client.close()


# ---------------------------------------------------------------- REST actions


def _get_group(world: World, role: str, room: str) -> object:
    return world.rest(role, "GET", f"/groups/{world.rooms[room]}")[0]


def _get_messages(world: World, role: str, room: str) -> object:
    return world.rest(role, "GET", f"/groups/{world.rooms[room]}/messages")[0]


def _listed(path: str) -> Callable[[World, str, str], object]:
    def listed(world: World, role: str, room: str) -> object:
        key = "groups" if path == "/groups" else "chats"
        cursor = ""
        while True:  # every page: the shared stack holds other tests' groups too
            status, body = world.rest(role, "GET", f"{path}?limit=100{cursor}")
            if status != 200:
                return status
            if any(entry["id"] == world.rooms[room] for entry in body[key]):
                return True
            if body["next"] is None:
                return False
            cursor = f"&cursor={body['next']}"

    return listed


def _add_member(world: World, role: str, room: str) -> object:
    path = f"/groups/{world.rooms[room]}/members"
    status, _ = world.rest(role, "POST", path, {"username": world.extra.username})
    if status == 201:  # put things back
        assert world.rest("owner", "DELETE", f"{path}/{world.extra.username}")[0] == 204
    return status


def _remove_other(world: World, role: str, room: str) -> object:
    # The owner and strangers try to remove the member; the member tries to remove the owner.
    other = world.owner if role == "member" else world.member
    status, _ = world.rest(role, "DELETE", f"/groups/{world.rooms[room]}/members/{other.username}")
    if status == 204:
        world.restore_member(room)
    return status


def _leave(world: World, role: str, room: str) -> object:
    account = world.account(role) or world.outsider  # anonymous names someone but has no token
    status, _ = world.rest(role, "DELETE", f"/groups/{world.rooms[room]}/members/{account.username}")
    if status == 204:
        world.restore_member(room)
    return status


# ---------------------------------------------------------------- WebSocket actions


def _ws(frame_type: str, reply: str) -> Callable[[World, str, str], object]:
    def act(world: World, role: str, room: str) -> object:
        if role == "anonymous":
            try:
                ChatClient(world.stack.ws_url, None).close()
            except InvalidStatus as refused:
                return "refused" if refused.response.status_code == 401 else refused.response.status_code
            return "connected"
        client = world.sockets[role]
        room_id = world.rooms[room]
        client.frames.clear()
        frame: dict[str, Any] = {"type": frame_type, "roomId": room_id}
        marker = uuid.uuid4().hex
        if frame_type == "message":
            frame |= {"text": "matrix", "clientMsgId": marker}

        def answers(f: dict[str, Any]) -> bool:
            if f.get("type") == "error":
                return f.get("requestType") == frame_type and f.get("roomId") == room_id
            if frame_type == "message":
                return f.get("type") == "message" and f["message"].get("clientMsgId") == marker
            return f.get("type") == reply and f.get("roomId") == room_id

        client.send(frame)
        got = client.wait_for(answers, 10.0, f"reply to {frame_type}")
        outcome = got["code"] if got["type"] == "error" else got["type"]
        if frame_type == "join" and outcome == "joined" and role == "non-member":
            # Joining a public group made the stranger a member: undo it for the other cases.
            client.send({"type": "leave", "roomId": room_id})
            assert world.rest(role, "DELETE", f"/groups/{room_id}/members/{world.outsider.username}")[0] == 204
        return outcome

    return act


ACTIONS: dict[str, Callable[[World, str, str], object]] = {
    "GET /groups/{id}": _get_group,
    "GET /groups/{id}/messages": _get_messages,
    "listed by GET /groups": _listed("/groups"),
    "listed by GET /direct": _listed("/direct"),
    "POST /groups/{id}/members (add a user)": _add_member,
    "DELETE /groups/{id}/members/{other}": _remove_other,
    "DELETE /groups/{id}/members/{self} (leave)": _leave,
    "ws list": _ws("list", "list"),
    "ws history": _ws("history", "history"),
    "ws message": _ws("message", "message"),
    "ws join": _ws("join", "joined"),
}


@pytest.mark.parametrize(("action", "room", "expected"), MATRIX, ids=[f"{a} | {r}" for a, r, _ in MATRIX])
def test_authorization_matrix(world: World, action: str, room: str, expected: tuple[object, ...]) -> None:
    """Each role gets exactly the outcome the table gives for this action on this kind of room."""
    actual = tuple(ACTIONS[action](world, role, room) for role in ROLES)
    assert dict(zip(ROLES, actual, strict=True)) == dict(zip(ROLES, expected, strict=True))


def test_matrix_covers_every_action_on_every_kind_of_room() -> None:
    """The table has one row per (action, room kind): nothing left unchecked, nothing twice."""
    cells = [(action, room) for action, room, _ in MATRIX]
    assert sorted(cells) == sorted((a, r) for a in ACTIONS for r in ("public", "private", "direct"))


def test_removed_member_loses_the_room_at_once(world: World) -> None:
    """After the owner removes a member, his open WebSocket is told, gets none of the room's messages, may not read."""
    private = world.rooms["private"]
    owner_socket, member_socket = world.sockets["owner"], world.sockets["member"]
    public = world.rooms["public"]
    for client in (owner_socket, member_socket):
        client.request({"type": "join", "roomId": private}, "joined")
        client.request({"type": "join", "roomId": public}, "joined")
    member_socket.drain()
    assert world.rest("owner", "DELETE", f"/groups/{private}/members/{world.member.username}")[0] == 204
    try:
        owner_socket.request({"type": "message", "roomId": private, "text": "after removal"}, "message")
        seen = before_marker(member_socket, owner_socket, public)  # a marker in a room both are still in
        # Told at once, and then nothing more from the room.
        assert [f for f in seen if f.get("roomId") == private] == [
            {"type": "room_removed", "roomId": private, "reason": "removed"}
        ]
        member_socket.send({"type": "history", "roomId": private})
        assert member_socket.expect("error", requestType="history")["code"] == "forbidden"
    finally:
        world.restore_member("private")
