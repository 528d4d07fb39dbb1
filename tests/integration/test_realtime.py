"""The chat protocol end to end: real WebSocket clients against the running local stack."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from chat_local.postgres import EmbeddedPostgres
from websockets.exceptions import ConnectionClosed, InvalidStatus

from tests.helpers.clients import Account, Api, ChatClient, before_marker, connection_id
from tests.helpers.records import opened_a_minute_ago
from tests.helpers.stack import StackProcess, wait_until


def connect(stack: StackProcess, clients: list[ChatClient], account: Account) -> ChatClient:
    client = ChatClient(stack.ws_url, account.token)
    clients.append(client)
    return client


def join(client: ChatClient, room_id: int, **extra: object) -> dict[str, Any]:
    return client.request({"type": "join", "roomId": room_id, **extra}, "joined")


def test_seed_session_join_message_leave_and_refresh(stack: StackProcess, api: Api, clients: list[ChatClient]) -> None:
    """The basic session: join, both see messages, refresh without duplicates, the last tab closes."""
    alice, bob = api.register("alice"), api.register("bob")
    room_id = api.create_group(alice, "ABgroup")
    b = connect(stack, clients, bob)
    join(b, room_id)
    b.request({"type": "message", "roomId": room_id, "text": "prev msg"}, "message")

    a = connect(stack, clients, alice)
    joined = join(a, room_id)
    assert [m["username"] for m in joined["members"]] == sorted([alice.username, bob.username])
    assert all(m["online"] for m in joined["members"])
    assert [(m["sender"], m["text"]) for m in joined["history"]] == [(bob.username, "prev msg")]
    # Alice's first connection: Bob, a member of a room of hers, hears that she is online.
    assert b.expect("presence", user=alice.username)["online"] is True

    a.send({"type": "message", "roomId": room_id, "text": "Hello Bob!"})
    sent = a.expect("message")["message"]
    got = b.expect("message")["message"]
    assert sent == got
    assert (got["sender"], got["text"], got["roomId"]) == (alice.username, "Hello Bob!", room_id)
    assert isinstance(got["id"], int) and abs(got["ts"] - time.time() * 1000) < 60_000
    b.send({"type": "message", "roomId": room_id, "text": "Hi Alice!"})
    assert a.expect("message")["message"]["text"] == "Hi Alice!"

    # Alice hits F5: a new connection for the same user.
    a.close()
    a2 = connect(stack, clients, alice)
    joined = join(a2, room_id)
    assert [m["username"] for m in joined["members"]] == sorted([alice.username, bob.username])
    assert [m["text"] for m in joined["history"]] == ["prev msg", "Hello Bob!", "Hi Alice!"]
    listed = b.request({"type": "list", "roomId": room_id}, "list")
    assert sorted(m["username"] for m in listed["members"]) == sorted([alice.username, bob.username])

    before_marker(b, a2, room_id)  # whatever the refresh announced is behind us
    a2.close()  # her last tab
    assert b.expect("presence", user=alice.username)["online"] is False


def test_errors_for_bad_json_unknown_type_and_missing_room(
    stack: StackProcess, api: Api, clients: list[ChatClient]
) -> None:
    """Malformed frames, unknown types and missing rooms each get their error; the socket stays open."""
    c = connect(stack, clients, api.register("eve"))
    c.send("not valid json")
    assert c.expect("error")["code"] == "invalid_message"
    c.send({"type": "unknown_command"})
    error = c.expect("error")
    assert (error["code"], error["message"]) == ("unknown_type", "unknown_type")
    c.send({"type": "join", "roomId": 987654321})
    assert c.expect("error")["code"] == "room_not_found"
    assert c.request({"type": "ping"}, "pong")["ts"] > 0


def test_frame_over_128_kb_is_refused(stack: StackProcess, api: Api, clients: list[ChatClient]) -> None:
    """A message over API Gateway's 128 KB (in 32 KB frames) closes the connection with 1009; nothing is stored."""
    alice = api.register("big")
    room_id = api.create_group(alice, "big")
    c = connect(stack, clients, alice)
    join(c, room_id)
    c.send_in_frames({"type": "message", "roomId": room_id, "text": "x" * (129 * 1024)})
    with pytest.raises(ConnectionClosed) as closed:
        c.socket.recv(timeout=10)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009
    c2 = connect(stack, clients, alice)
    assert join(c2, room_id)["history"] == []


def test_sender_in_frame_is_ignored(stack: StackProcess, api: Api, clients: list[ChatClient]) -> None:
    """A ``sender``/``username`` in the frame changes nothing: the message is the token's user's."""
    alice, mallory = api.register("alice"), api.register("mallory")
    room_id = api.create_group(alice, "trust")
    a, m = connect(stack, clients, alice), connect(stack, clients, mallory)
    join(a, room_id)
    join(m, room_id)
    m.send(
        {
            "type": "message",
            "roomId": room_id,
            "text": "I am alice",
            "sender": alice.username,
            "username": alice.username,
            "userId": alice.user_id,
        }
    )
    message = a.expect("message")["message"]
    assert (message["sender"], message["senderId"]) == (mallory.username, mallory.user_id)


def test_client_msg_id_retry_is_stored_and_broadcast_once(
    stack: StackProcess, api: Api, clients: list[ChatClient]
) -> None:
    """Sending the same ``clientMsgId`` twice delivers one message to the room and stores one."""
    alice, bob = api.register("alice"), api.register("bob")
    room_id = api.create_group(alice, "retry")
    a, b = connect(stack, clients, alice), connect(stack, clients, bob)
    join(a, room_id)
    join(b, room_id)
    frame = {"type": "message", "roomId": room_id, "text": "exactly once", "clientMsgId": "abc-123"}
    a.send(frame)
    a.send(frame)
    first, second = a.expect("message")["message"], a.expect("message")["message"]
    assert first["id"] == second["id"]
    assert b.expect("message")["message"]["id"] == first["id"]
    history = b.request({"type": "history", "roomId": room_id}, "history")["messages"]
    assert [m["text"] for m in history] == ["exactly once"]
    assert [f for f in before_marker(b, a, room_id) if f["type"] == "message"] == []  # and delivered only once


def test_connection_dropped_without_disconnect_is_cleaned_up_on_next_broadcast(
    stack: StackProcess, api: Api, clients: list[ChatClient]
) -> None:
    """A connection API Gateway lost (410 on post) is removed, announced offline; the others get the message."""
    alice, bob, carol = api.register("alice"), api.register("bob"), api.register("carol")
    room_id = api.create_group(alice, "gone")
    for member in (bob, carol):  # members before they connect: each other's presence contacts
        assert api.call("POST", f"/groups/{room_id}/members", {"username": member.username}, alice.token)[0] == 201
    a, b, c = (connect(stack, clients, who) for who in (alice, bob, carol))
    for client in (a, b, c):
        join(client, room_id)
    b_id = connection_id(stack.url, b)
    c.drain()
    # A minute later the gateway loses Bob's socket and never calls $disconnect, as AWS sometimes does
    # (a 410 in a connection's first 30 s keeps it: API Gateway answers 410 while $connect runs).
    opened_a_minute_ago(stack.registry(), b_id)
    status, _ = Api(stack.url).call("POST", f"/_local/connections/{b_id}/drop")
    assert status == 204

    a.send({"type": "message", "roomId": room_id, "text": "anyone?"})
    assert c.expect("message")["message"]["text"] == "anyone?"
    assert a.expect("message")["message"]["text"] == "anyone?"
    assert c.expect("presence", user=bob.username)["online"] is False
    members = a.request({"type": "list", "roomId": room_id}, "list")["members"]
    assert {m["username"]: m["online"] for m in members}[bob.username] is False


def test_connect_without_a_valid_token_is_refused_with_401(stack: StackProcess) -> None:
    """The upgrade is refused (HTTP 401) for a missing or forged token."""
    for token in (None, "not-a-token"):
        with pytest.raises(InvalidStatus) as refused:
            ChatClient(stack.ws_url, token)
        assert refused.value.response.status_code == 401


def test_connect_from_a_foreign_web_origin_is_refused_with_403(stack: StackProcess, api: Api) -> None:
    """A page on another site cannot open a socket with a user's token (cross-site WebSocket hijacking)."""
    alice = api.register("alice")
    with pytest.raises(InvalidStatus) as refused:
        ChatClient(stack.ws_url, alice.token, origin="https://evil.example")
    assert refused.value.response.status_code == 403
    own = ChatClient(stack.ws_url, alice.token, origin=stack.url)
    assert own.request({"type": "ping"}, "pong")["ts"] > 0
    own.close()


def test_management_api_answers_gone_for_unknown_connections(stack: StackProcess) -> None:
    """The local Management API raises boto3's ``GoneException`` for an unknown connection id."""
    client = stack.management()
    with pytest.raises(client.exceptions.GoneException):
        client.post_to_connection(ConnectionId="bm90LWEtY29ubg==", Data=b"{}")
    with pytest.raises(client.exceptions.GoneException):
        client.get_connection(ConnectionId="bm90LWEtY29ubg==")


def test_database_down_gives_save_failed_and_nothing_is_broadcast(
    stack: StackProcess, api: Api, clients: list[ChatClient], pg_server: EmbeddedPostgres
) -> None:
    """PostgreSQL stopped: the sender gets ``save_failed``, nobody gets the message; after restart it works."""
    alice, bob = api.register("alice"), api.register("bob")
    room_id = api.create_group(alice, "outage")
    a, b = connect(stack, clients, alice), connect(stack, clients, bob)
    join(a, room_id)
    join(b, room_id)
    a.drain()
    pg_server.stop()
    try:
        a.send({"type": "message", "roomId": room_id, "text": "during outage", "clientMsgId": "o-1"})
        error = a.expect("error", timeout=20)
        assert (error["code"], error["message"], error["clientMsgId"]) == (
            "save_failed",
            "Failed to save message",
            "o-1",
        )
    finally:
        pg_server.start()
    # The handlers' connections died with the server: the next call retries once on a fresh one.
    a.send({"type": "message", "roomId": room_id, "text": "during outage", "clientMsgId": "o-1"})
    assert b.expect("message", timeout=20)["message"]["text"] == "during outage"
    history = b.request({"type": "history", "roomId": room_id}, "history")["messages"]
    assert [m["text"] for m in history] == ["during outage"]
    # Broadcast once, after it was stored: nothing else reached Bob, the failed attempt included.
    assert [f for f in before_marker(b, a, room_id) if f["type"] == "message"] == []


def _postgres_processes(data_dir: Path) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if str(data_dir).encode() in cmdline and b"postgres" in cmdline:
                found.append(int(entry.name))
    return found


def test_history_survives_a_restart_and_stop_leaves_no_processes(tmp_path_factory: pytest.TempPathFactory) -> None:
    """With the embedded PostgreSQL, messages outlive a restart; SIGTERM stops every child process."""
    root = Path(tmp_path_factory.mktemp("restart", numbered=True))
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    data_dir = root / "data"
    first = StackProcess(data_dir, env=env, log_path=root / "stack.log")
    first.env = env
    first.start()
    try:
        api = Api(first.api_url)
        alice = api.register("alice")
        room_id = api.create_group(alice, "durable")
        with ChatClient(first.ws_url, alice.token).socket as socket:
            socket.send(json.dumps({"type": "message", "roomId": room_id, "text": "remember me"}))
            assert json.loads(socket.recv(timeout=10))["message"]["text"] == "remember me"
    finally:
        assert first.stop() == 0
    assert _postgres_processes(data_dir / "postgres") == []
    assert "stopped" in first.log_tail()

    second = StackProcess(data_dir, env=env, log_path=root / "stack.log")
    second.env = env
    second.start()
    try:
        client = ChatClient(second.ws_url, alice.token)  # the signing key survives too
        client.send({"type": "join", "roomId": room_id})
        joined = client.expect("joined")
        assert [m["text"] for m in joined["history"]] == ["remember me"]
        client.close()
    finally:
        second.process.send_signal(signal.SIGINT) if second.process else None  # Ctrl-C
        assert wait_until(lambda: second.process is None or second.process.poll() is not None, 30)
        code = second.stop()
    assert code == 0
    assert wait_until(lambda: _postgres_processes(data_dir / "postgres") == [], 10)
    assert subprocess.run(["pgrep", "-f", str(data_dir)], capture_output=True).stdout == b""


def test_stopping_with_sockets_open_lets_their_disconnects_post(tmp_path_factory: pytest.TempPathFactory) -> None:
    """SIGTERM with two members online: both $disconnects run to 200 and their presence posts are answered."""
    root = Path(tmp_path_factory.mktemp("drain", numbered=True))
    stack = StackProcess(root / "data", log_path=root / "stack.log")
    stack.start()
    try:
        api = Api(stack.api_url)
        alice, bob = api.register("alice"), api.register("bob")
        room_id = api.create_group(alice, "online")
        clients = [ChatClient(stack.ws_url, account.token) for account in (alice, bob)]
        for client in clients:
            client.send({"type": "join", "roomId": room_id})
            client.expect("joined")
    finally:
        assert stack.stop() == 0
    log = stack.log_path.read_text(errors="replace")
    disconnects = [line for line in log.splitlines() if "$disconnect" in line and "(" in line]
    assert len(disconnects) == 2 and all(" 1001 200 " in line for line in disconnects)
    assert "post_to_connection failed" not in log and "Could not connect" not in log


@pytest.mark.parametrize(
    ("kind", "text", "count"),
    [("group", "\U0001f600" * 4000, 9), ("direct", "\u0001" * 4000, 6)],
    ids=["emoji-in-a-group", "controls-in-a-direct-chat"],
)
def test_a_room_of_maximum_size_messages_can_still_be_opened(
    stack: StackProcess, api: Api, clients: list[ChatClient], kind: str, text: str, count: int
) -> None:
    """The attack that made a room impossible to open: worst-case messages, then joined still arrives, in pages."""
    alice, bob = api.register("alice"), api.register("bob")
    if kind == "group":
        room_id = api.create_group(alice, "heavy")
    else:
        status, body = api.call("POST", "/direct", {"username": bob.username}, alice.token)
        assert status == 200
        room_id = body["id"]
    a = connect(stack, clients, alice)
    join(a, room_id)
    for n in range(count):
        # Up to 48 KB as JSON: over API Gateway's 32 KB frame, so sent in frames.
        a.send_in_frames({"type": "message", "roomId": room_id, "text": text, "clientMsgId": f"big-{n}"})
        assert a.expect("message")["message"]["clientMsgId"] == f"big-{n}"

    b = connect(stack, clients, bob)
    joined = join(b, room_id)  # before the fix the 128 KB post was refused and this never came
    assert joined["hasMore"] is True and 1 <= len(joined["history"]) < count
    texts = [m["text"] for m in joined["history"]]
    while len(texts) < count:
        page = b.request({"type": "history", "roomId": room_id, "before": joined["history"][0]["id"]}, "history")
        joined["history"] = page["messages"] + joined["history"]
        texts = [m["text"] for m in joined["history"]]
    assert texts == [text] * count
