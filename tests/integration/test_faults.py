"""Faults on the way out: the Management API throttling (429) or failing (5xx) for some posts."""

from __future__ import annotations

from tests.helpers.clients import Account, Api, ChatClient, before_marker_everywhere
from tests.helpers.stack import StackProcess


def connect(stack: StackProcess, clients: list[ChatClient], account: Account) -> ChatClient:
    client = ChatClient(stack.ws_url, account.token)
    clients.append(client)
    return client


def test_throttled_and_failing_posts_are_retried_and_delivered_once(
    stack: StackProcess, api: Api, clients: list[ChatClient]
) -> None:
    """429 LimitExceeded and 5xx answers from the Management API are retried with backoff: all delivered."""
    people = [api.register(f"f{n}") for n in range(3)]
    room_id = api.create_group(people[0], "faults")
    sockets = [connect(stack, clients, who) for who in people]
    for socket in sockets:
        socket.request({"type": "join", "roomId": room_id}, "joined")
    for socket in sockets:
        socket.drain(0.3)
    status, body = Api(stack.url).call("POST", "/_local/faults", {"management": [429, 503, 500, 429, 502]})
    assert status == 200 and body["pending"] == 5

    sockets[0].send({"type": "message", "roomId": room_id, "text": "through the storm", "clientMsgId": "s-1"})

    for socket in sockets:
        assert socket.expect("message")["message"]["text"] == "through the storm"
    _, body = Api(stack.url).call("POST", "/_local/faults", {"management": []})
    assert body["pending"] == 0  # every injected fault was met, and still everyone got the message
    for earlier in before_marker_everywhere(sockets, sockets[0], room_id):
        assert [f for f in earlier if f["type"] == "message"] == []  # once, retries notwithstanding
