"""Auth attacks refused at ``$connect`` and on REST, no token ever written to the logs, no connection id in frames."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import get_args

import jwt
import psycopg
import pytest
from chatcore.protocol.server import ServerFrame
from websockets.exceptions import ConnectionClosed, InvalidStatus

from tests.helpers.clients import Account, Api, ChatClient, connection_id
from tests.helpers.stack import StackProcess, wait_until


@pytest.fixture(scope="module")
def verbose_stack(tmp_root: Path, stack_database: str) -> Iterator[StackProcess]:
    """A stack printing every function's INFO logs too, so a test can read everything it logged."""
    process = StackProcess(
        tmp_root / "verbose-stack",
        "--verbose",
        env={"DATABASE_URL": stack_database},
        log_path=tmp_root / "verbose-stack.log",
    ).start()
    yield process
    process.stop()


def _b64(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def forged_tokens(account: Account, signing_key: str) -> dict[str, str]:
    """Tokens an attacker could try, built from a real one."""
    claims = jwt.decode(account.token, options={"verify_signature": False})
    header, payload, signature = account.token.split(".")
    flipped = signature[:-2] + ("A" if signature[-2] != "A" else "B") + signature[-1]
    now = int(time.time())
    return {
        "changed signature": f"{header}.{payload}.{flipped}",
        "changed claims": f"{header}.{_b64({**claims, 'sub': '1', 'username': 'admin'})}.{signature}",
        "alg none": f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{payload}.",
        "another key": jwt.encode(claims, "an-attackers-own-secret-of-sufficient-length!", algorithm="HS256"),
        "another algorithm": jwt.encode(claims, signing_key, algorithm="HS512"),
        "expired": jwt.encode({**claims, "iat": now - 7200, "exp": now - 60}, signing_key, algorithm="HS256"),
    }


def refused_at_connect(stack: StackProcess, token: str) -> int:
    with pytest.raises(InvalidStatus) as refused:
        ChatClient(stack.ws_url, token)
    return refused.value.response.status_code


def test_forged_expired_and_foreign_tokens_are_refused_everywhere(verbose_stack: StackProcess, tmp_root: Path) -> None:
    """Changed signature or claims, alg none, another key or algorithm, expired: 401 on connect and REST."""
    api = Api(verbose_stack.api_url)
    alice = api.register("alice")
    signing_key = (tmp_root / "verbose-stack" / "token-secret").read_text().strip()
    for attack, token in forged_tokens(alice, signing_key).items():
        assert refused_at_connect(verbose_stack, token) == 401, attack
        status, body = api.call("GET", "/groups", token=token)
        assert (status, body["message"]) == (401, "Invalid or missing credentials"), attack
    assert api.call("GET", "/groups", token=alice.token)[0] == 200  # the genuine token still works


def test_a_deleted_users_token_is_refused(verbose_stack: StackProcess, stack_database: str) -> None:
    """Once the account is gone its unexpired token opens nothing."""
    api = Api(verbose_stack.api_url)
    ghost = api.register("ghost")
    with psycopg.connect(stack_database, autocommit=True) as conn:
        conn.execute("DELETE FROM users WHERE id = %s", (ghost.user_id,))
    assert refused_at_connect(verbose_stack, ghost.token) == 401
    assert api.call("GET", "/groups", token=ghost.token)[0] == 401


def test_tokens_and_passwords_never_appear_in_the_logs(verbose_stack: StackProcess, tmp_root: Path) -> None:
    """A full session (register, login, connect, join, message, leave, bad token) logs neither secret."""
    api = Api(verbose_stack.api_url)
    alice, bob = api.register("alice", password="alice's secret phrase"), api.register("bob")
    status, login = api.call("POST", "/auth/login", {"username": alice.username, "password": alice.password})
    assert status == 200
    room_id = api.create_group(alice, "logged")
    a, b = ChatClient(verbose_stack.ws_url, login["token"]), ChatClient(verbose_stack.ws_url, bob.token)
    for client in (a, b):
        client.request({"type": "join", "roomId": room_id}, "joined")
    a.send({"type": "message", "roomId": room_id, "text": "hello"})
    assert b.expect("message")["message"]["text"] == "hello"
    a.send({"type": "leave", "roomId": room_id})
    a.close()
    b.close()
    wrong = alice.token[:-3] + "xyz"
    refused_at_connect(verbose_stack, wrong)
    api.call("POST", "/auth/login", {"username": alice.username, "password": "a wrong password!"})
    log_file = tmp_root / "verbose-stack.log"
    # Both sockets' $disconnect ran and logged (the gateway's line comes after the function's own).
    assert wait_until(lambda: log_file.read_text().count("$disconnect ") >= 2, timeout=20)
    log = log_file.read_text()
    assert '"level":"INFO"' in log and "connected" in log  # the functions' JSON logs were captured
    for secret in (alice.token, login["token"], bob.token, wrong, alice.password, "a wrong password!"):
        assert secret not in log
    # Not even the signature part alone.
    assert alice.token.rsplit(".", 1)[1] not in log


def test_hostile_frames_over_a_real_socket_each_get_an_error_and_the_connection_lives(
    stack: StackProcess, api: Api, clients: list[ChatClient]
) -> None:
    """Deeply nested JSON and a message of exactly 128 KB (in 32 KB frames): one error each, the socket lives;
    a binary frame closes it with 1003, as API Gateway does."""
    alice = api.register("alice")
    client = ChatClient(stack.ws_url, alice.token)
    clients.append(client)
    nested = '{"type":"join","roomId":' + "[" * 60_000 + "]" * 60_000 + "}"  # deep enough for any recursive parser
    largest = json.dumps({"type": "message", "roomId": 1, "text": ""})
    largest = largest[:-1] + ',"pad":"' + "x" * (128 * 1024 - len(largest) - 9) + '"}'
    assert len(largest.encode()) == 128 * 1024
    for frame in (nested, largest):
        client.send_in_frames(frame)
        error = client.expect("error")
        assert error["code"] == "invalid_message", error
        assert client.request({"type": "ping"}, "pong")["ts"] > 0
    assert not client.closed
    client.socket.send(b"\x00\x01binary\xff")
    with pytest.raises(ConnectionClosed) as closed:
        client.socket.recv(timeout=10)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1003


def _server_frame_types() -> set[str]:
    """Every ``type`` of frame the chat sends (the protocol's ServerFrame union)."""
    return {get_args(model.model_fields["type"].annotation)[0] for model in get_args(ServerFrame)}


def test_no_frame_carries_a_connection_id(stack: StackProcess, api: Api, clients: list[ChatClient]) -> None:
    """Every frame type the server sends, to the actor and to the others, is free of any connection id."""
    alice, bob = api.register("alice"), api.register("bob")
    room_id = api.create_group(alice, "ids")
    assert api.call("POST", "/direct", {"username": bob.username}, alice.token)[0] == 200  # contacts
    a = ChatClient(stack.ws_url, alice.token)
    clients.append(a)
    b = ChatClient(stack.ws_url, bob.token)
    clients.append(b)
    ids = {connection_id(stack.url, a), connection_id(stack.url, b)}
    a.expect("presence", user=bob.username, online=True)

    a.request({"type": "join", "roomId": room_id}, "joined")
    b.request({"type": "join", "roomId": room_id}, "joined")  # bob becomes a member of the public group
    b.expect("room_added", roomId=room_id)
    a.expect("member_joined", user=bob.username)
    a.send({"type": "message", "roomId": room_id, "text": f"hello @{bob.username}"})
    message_id = b.expect("message")["message"]["id"]
    b.expect("mention")
    a.expect("message")
    b.send({"type": "react", "roomId": room_id, "messageId": message_id, "emoji": "👍"})
    a.expect("reaction")
    a.send({"type": "edit", "roomId": room_id, "messageId": message_id, "text": "hello again"})
    b.expect("message_edited")
    a.send({"type": "message", "roomId": room_id, "text": "to delete"})
    doomed = a.expect("message")["message"]["id"]
    a.send({"type": "delete", "roomId": room_id, "messageId": doomed})
    b.expect("message_deleted")
    b.send({"type": "typing", "roomId": room_id})
    a.expect("typing", user=bob.username)
    b.send({"type": "read", "roomId": room_id, "messageId": message_id})
    a.expect("read", user=bob.username)
    b.request({"type": "list", "roomId": room_id}, "list")
    b.request({"type": "history", "roomId": room_id}, "history")
    b.request({"type": "ping"}, "pong")
    b.send("not json")
    b.expect("error", code="invalid_message")
    assert api.call("PATCH", f"/groups/{room_id}", {"description": "no ids here"}, alice.token)[0] == 200
    b.expect("room_updated", roomId=room_id)
    assert api.call("PATCH", "/profile", {"nickname": "Bobby"}, bob.token)[0] == 200
    b.expect("user_updated")
    assert api.call("DELETE", f"/groups/{room_id}/members/{bob.username}", token=alice.token)[0] == 204
    b.expect("room_removed", roomId=room_id)
    a.expect("member_left", user=bob.username)
    b.close()
    a.expect("presence", user=bob.username, online=False)

    frames = a.received + b.received
    assert {f["type"] for f in frames} >= _server_frame_types()  # every kind of frame was looked at
    for frame in frames:
        text = json.dumps(frame)
        assert not any(cid in text for cid in ids), frame
        assert "clientId" not in text and "connectionId" not in text, frame


def test_deleting_an_account_closes_its_open_sockets(stack: StackProcess, api: Api, clients: list[ChatClient]) -> None:
    """DELETE /profile (password confirmed) closes every open socket of the account at once: no more messages."""
    alice, bob = api.register("alice"), api.register("bob")
    room_id = api.create_group(alice, "private talk", private=True)
    assert api.call("POST", f"/groups/{room_id}/members", {"username": bob.username}, alice.token)[0] == 201
    a = ChatClient(stack.ws_url, alice.token)
    clients.append(a)
    tabs = [ChatClient(stack.ws_url, bob.token) for _ in range(2)]
    clients.extend(tabs)
    for tab in tabs:
        tab.request({"type": "ping"}, "pong")

    assert api.call("DELETE", "/profile", {"password": "a wrong password"}, bob.token)[0] == 403
    assert api.call("DELETE", "/profile", {"password": bob.password}, bob.token)[0] == 204

    for tab in tabs:
        assert wait_until(lambda tab=tab: tab.closed or (tab.messages("none", wait=0.2) == [] and tab.closed), 10)
        assert tab.socket.close_code == 1000
    a.send({"type": "message", "roomId": room_id, "text": "bob is gone"})
    assert a.expect("message")["message"]["text"] == "bob is gone"
    assert api.call("GET", "/profile", token=bob.token)[0] == 401
    members = a.request({"type": "list", "roomId": room_id}, "list")["members"]
    assert [m["username"] for m in members] == [alice.username]
