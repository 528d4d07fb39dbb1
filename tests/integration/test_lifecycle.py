"""Connection lifecycle and presence: prune, idle and maximum-duration closes, tabs, typing, unread."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.clients import Account, Api, ChatClient, before_marker, connection_id
from tests.helpers.stack import StackProcess


def connect(stack: StackProcess, clients: list[ChatClient], account: Account) -> ChatClient:
    client = ChatClient(stack.ws_url, account.token)
    clients.append(client)
    return client


def with_members(api: Api, owner: Account, name: str, *members: Account) -> int:
    """A public group of ``owner`` with ``members`` in it before anyone connects (so they are contacts)."""
    room_id = api.create_group(owner, name)
    for member in members:
        assert api.call("POST", f"/groups/{room_id}/members", {"username": member.username}, owner.token)[0] == 201
    return room_id


def join(client: ChatClient, room_id: int, **extra: object) -> dict[str, Any]:
    return client.request({"type": "join", "roomId": room_id, **extra}, "joined")


def test_prune_removes_a_connection_dropped_without_disconnect(
    stack: StackProcess, api: Api, clients: list[ChatClient]
) -> None:
    """The next prune run forgets a silently dropped connection, announces it offline, and spares live ones."""
    alice, bob = api.register("alice"), api.register("bob")
    room_id = with_members(api, alice, "prune", bob)
    a, b = connect(stack, clients, alice), connect(stack, clients, bob)
    join(a, room_id)
    join(b, room_id)
    assert a.expect("presence", user=bob.username)["online"] is True
    bob_connection = connection_id(stack.url, b)
    assert Api(stack.url).call("POST", f"/_local/connections/{bob_connection}/drop")[0] == 204
    # A marker in a room of Alice's own (a post to the room would find Bob gone and clean up before prune).
    alone = api.create_group(alice, "alone")
    join(a, alone)
    assert [f for f in before_marker(a, a, alone) if f["type"] == "presence"] == []  # no $disconnect yet

    status, report = Api(stack.url).call("POST", "/_local/schedules/prune")

    assert status == 200 and report["removed"] >= 1 and report["complete"] is True
    assert a.expect("presence", user=bob.username)["online"] is False
    members = {m["username"]: m["online"] for m in a.request({"type": "list", "roomId": room_id}, "list")["members"]}
    assert members == {alice.username: True, bob.username: False}
    # Alice's live connection was checked and kept: she still sends and receives.
    a.send({"type": "message", "roomId": room_id, "text": "still here"})
    assert a.expect("message")["message"]["text"] == "still here"


def test_closing_one_of_two_tabs_keeps_the_user_online(
    stack: StackProcess, api: Api, clients: list[ChatClient]
) -> None:
    """Two tabs of one user: one ``online`` for the first; closing one is silent; closing both, exactly one offline."""
    alice, bob = api.register("alice"), api.register("bob")
    room_id = with_members(api, alice, "tabs", bob)
    a = connect(stack, clients, alice)
    join(a, room_id)
    tab1, tab2 = connect(stack, clients, bob), connect(stack, clients, bob)
    assert a.expect("presence", user=bob.username)["online"] is True
    # One announcement per user, not per tab.
    assert [f for f in before_marker(a, tab2, room_id) if f["type"] == "presence"] == []

    tab1.close()
    members = {m["username"]: m["online"] for m in a.request({"type": "list", "roomId": room_id}, "list")["members"]}
    assert members[bob.username] is True

    tab2.close()
    assert a.expect("presence", user=bob.username)["online"] is False
    # Exactly one in all: neither the first tab's close nor the second announced twice.
    assert [f for f in before_marker(a, a, room_id) if f["type"] == "presence"] == []


def test_typing_reaches_the_others_and_unread_counts_follow_read(
    stack: StackProcess, api: Api, clients: list[ChatClient]
) -> None:
    """Typing goes to the others only; unread counts rise with new messages and drop to zero on read."""
    alice, bob = api.register("alice"), api.register("bob")
    room_id = api.create_group(alice, "unread")
    a, b = connect(stack, clients, alice), connect(stack, clients, bob)
    join(a, room_id)
    join(b, room_id)

    a.send({"type": "typing", "roomId": room_id})
    assert b.expect("typing")["user"] == alice.username
    alone = api.create_group(alice, "alone")  # the marker's room: a message there is nobody's unread
    join(a, alone)
    assert [f for f in before_marker(a, a, alone) if f["type"] == "typing"] == []  # not to the typist

    def unread(account: Account) -> int:
        status, groups = api.call("GET", "/groups", token=account.token)
        assert status == 200
        return int(next(g["unread"] for g in groups["groups"] if g["id"] == room_id))

    assert unread(bob) == 0
    last_id = 0
    for text in ("one", "two", "three"):
        a.send({"type": "message", "roomId": room_id, "text": text})
        last_id = b.expect("message")["message"]["id"]
    assert unread(bob) == 3
    assert unread(alice) == 0  # her own messages are not unread for her
    b.send({"type": "read", "roomId": room_id, "messageId": last_id})
    assert a.expect("read", user=bob.username)["messageId"] == last_id
    assert unread(bob) == 0


@pytest.fixture(scope="module")
def short_stack(tmp_root: Path, stack_database: str) -> Iterator[StackProcess]:
    """A local stack with API Gateway's limits shortened: 2 s idle timeout, 5 s maximum duration."""
    process = StackProcess(
        tmp_root / "short-stack",
        "--idle-timeout",
        "2",
        "--max-connection-duration",
        "5",
        env={"DATABASE_URL": stack_database},
        log_path=tmp_root / "short-stack.log",
    ).start()
    yield process
    process.stop()


def test_idle_and_maximum_duration_closes_invoke_disconnect_and_clients_catch_up(
    short_stack: StackProcess, clients: list[ChatClient]
) -> None:
    """Idle and 2-hour-style closes come with 1001 and ``$disconnect``; a reconnect with ``since`` catches up."""
    api = Api(short_stack.api_url)
    alice, bob = api.register("alice"), api.register("bob")
    room_id = with_members(api, alice, "limits", bob)
    a, b = connect(short_stack, clients, alice), connect(short_stack, clients, bob)
    join(a, room_id)
    last_seen = join(b, room_id)["history"]
    assert last_seen == []

    # Alice stays active; Bob goes quiet and is closed for idleness.
    deadline = time.monotonic() + 4
    while time.monotonic() < deadline and not b.closed:
        a.request({"type": "ping"}, "pong")
        b.messages("none", wait=0.4)
    assert b.closed and b.socket.close_code == 1001
    assert a.expect("presence", user=bob.username, online=False)  # $disconnect ran
    a.send({"type": "message", "roomId": room_id, "text": "while you were away"})
    sent = a.expect("message")["message"]

    b2 = connect(short_stack, clients, bob)
    caught_up = join(b2, room_id, since=0)
    assert [m["id"] for m in caught_up["history"]] == [sent["id"]]

    # However active, no connection outlives the maximum duration.
    while not a.closed:
        a.send({"type": "ping"})
        a.messages("pong", wait=0.3)
    assert a.socket.close_code == 1001
    assert time.monotonic() - deadline < 6
