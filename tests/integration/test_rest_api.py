"""The REST API over real HTTP against the running local stack, together with the WebSocket side."""

from __future__ import annotations

import uuid

from tests.helpers.clients import Account, Api, ChatClient
from tests.helpers.stack import StackProcess

INJECTION = "'); DROP TABLE users;--"


def _connect(stack: StackProcess, clients: list[ChatClient], account: Account) -> ChatClient:
    client = ChatClient(stack.ws_url, account.token)
    clients.append(client)
    return client


def test_a_users_journey_over_rest_and_websocket(stack: StackProcess, api: Api, clients: list[ChatClient]) -> None:
    """Register, log in, set a profile, make a private group, add a friend, chat, read the history over REST."""
    name = f"ann_{uuid.uuid4().hex[:8]}"
    status, registered = api.call("POST", "/auth/register", {"username": name, "password": "long password"})
    assert status == 201 and registered["tokenType"] == "Bearer"
    status, session = api.call("POST", "/auth/login", {"username": name, "password": "long password"})
    assert status == 200
    ann = Account(name, "long password", session["token"], session["user"]["id"])
    bob = api.register("bob")

    status, profile = api.call("PATCH", "/profile", {"nickname": "Annie"}, ann.token)
    assert (status, profile["nickname"]) == (200, "Annie")
    status, group = api.call("POST", "/groups", {"name": "plans", "private": True}, ann.token)
    assert (status, group["role"], group["memberCount"]) == (201, "owner", 1)
    status, added = api.call("POST", f"/groups/{group['id']}/members", {"username": bob.username}, ann.token)
    assert (status, added["role"]) == (201, "member")

    status, bobs_groups = api.call("GET", "/groups", token=bob.token)
    mine = [g for g in bobs_groups["groups"] if g["id"] == group["id"]]
    assert (
        status == 200
        and mine
        and (mine[0]["isMember"], mine[0]["role"], mine[0]["memberCount"])
        == (
            True,
            "member",
            2,
        )
    )

    a, b = _connect(stack, clients, ann), _connect(stack, clients, bob)
    a.request({"type": "join", "roomId": group["id"]}, "joined")
    b.request({"type": "join", "roomId": group["id"]}, "joined")
    a.send({"type": "message", "roomId": group["id"], "text": "picnic on Sunday?", "clientMsgId": "p-1"})
    live = b.expect("message")["message"]

    status, page = api.call("GET", f"/groups/{group['id']}/messages", token=bob.token)
    assert status == 200 and page == {"messages": [live], "hasMore": False}  # the WebSocket message shape
    status, detail = api.call("GET", f"/groups/{group['id']}", token=bob.token)
    assert [(m["username"], m["nickname"], m["role"]) for m in detail["members"]] == sorted(
        [(name, "Annie", "owner"), (bob.username, None, "member")]
    )


def test_direct_chat_is_one_room_for_both_and_carries_messages(
    stack: StackProcess, api: Api, clients: list[ChatClient]
) -> None:
    """``POST /direct`` from either side gives one room; both chat in it; ``GET /direct`` shows unread."""
    ann, bob = api.register("ann"), api.register("bob")
    status, from_ann = api.call("POST", "/direct", {"username": bob.username}, ann.token)
    assert status == 200 and from_ann["other"]["username"] == bob.username
    status, from_bob = api.call("POST", "/direct", {"username": ann.username}, bob.token)
    assert status == 200 and from_bob["id"] == from_ann["id"]

    a = _connect(stack, clients, ann)
    a.request({"type": "join", "roomId": from_ann["id"]}, "joined")
    sent = a.request({"type": "message", "roomId": from_ann["id"], "text": "hi bob"}, "message")["message"]

    status, page = api.call("GET", "/direct", token=bob.token)
    assert status == 200
    assert page["chats"] == [
        {
            "id": from_ann["id"],
            "other": {"id": ann.user_id, "username": ann.username, "nickname": None},
            "unread": 1,
            "lastMessageId": sent["id"],
        }
    ]
    outsider = api.register("eve")
    status, _ = api.call("GET", f"/groups/{from_ann['id']}/messages", token=outsider.token)
    assert status == 403


def test_hostile_text_round_trips_through_the_whole_stack(
    stack: StackProcess, api: Api, clients: list[ChatClient]
) -> None:
    """SQL-looking group names, nicknames, tags and messages come back unchanged; the tables survive."""
    ann = api.register("ann")
    status, group = api.call("POST", "/groups", {"name": INJECTION}, ann.token)
    assert status == 201 and group["name"] == INJECTION
    status, profile = api.call("PATCH", "/profile", {"nickname": INJECTION}, ann.token)
    assert status == 200 and profile["nickname"] == INJECTION
    status, tag = api.call("POST", "/tags", {"name": "'; delete from user_tags;--"}, ann.token)
    assert status == 201 and tag["name"] == "'; delete from user_tags;--"

    a = _connect(stack, clients, ann)
    a.request({"type": "join", "roomId": group["id"]}, "joined")
    a.request({"type": "message", "roomId": group["id"], "text": INJECTION}, "message")

    status, page = api.call("GET", f"/groups/{group['id']}/messages", token=ann.token)
    assert [m["text"] for m in page["messages"]] == [INJECTION]
    status, detail = api.call("GET", f"/groups/{group['id']}", token=ann.token)
    assert (detail["name"], detail["members"][0]["nickname"]) == (INJECTION, INJECTION)
    assert api.call("GET", "/tags", token=ann.token)[1] == {"tags": ["'; delete from user_tags;--"]}
    status, me = api.call("GET", "/profile", token=ann.token)
    assert status == 200 and me["username"] == ann.username  # the users table is still there


def test_openapi_document_is_served_under_api(api: Api) -> None:
    """``/api/openapi.json`` in the local stack is the resolver's document with every route."""
    status, document = api.call("GET", "/openapi.json")
    assert status == 200
    assert set(document["paths"]) == {
        "/auth/register",
        "/auth/login",
        "/profile",
        "/users/{username}",
        "/groups",
        "/groups/{group_id}",
        "/groups/{group_id}/members",
        "/groups/{group_id}/members/{username}",
        "/groups/{group_id}/messages",
        "/groups/{group_id}/owner",
        "/conversations",
        "/direct",
        "/tags",
        "/tags/{name}",
        "/nicknames",
        "/search",
        "/rooms/{room_id}/attachments",
        "/attachments/{attachment_id}",
    }


def test_errors_over_http_are_json_without_traces(api: Api) -> None:
    """401, 404 and 422 arrive as JSON error bodies over real HTTP."""
    assert api.call("GET", "/groups") == (401, {"statusCode": 401, "message": "Invalid or missing credentials"})
    ann = api.register("ann")
    status, body = api.call("GET", "/no/such/route", token=ann.token)
    assert (status, body["statusCode"]) == (404, 404)
    status, body = api.call("POST", "/groups", b"\xff\xfe not json", ann.token)
    assert (status, body["message"]) == (422, "Invalid request")
