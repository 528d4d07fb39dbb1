"""Edits, deletions, reactions, replies, mentions, attachments and search end to end: real WebSocket clients,
the REST API and the S3 front of the running local stack."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
import urllib3

from tests.helpers.clients import Account, Api, ChatClient
from tests.helpers.stack import StackProcess


@pytest.fixture
def pair(
    stack: StackProcess, api: Api, clients: list[ChatClient]
) -> tuple[Account, Account, int, ChatClient, ChatClient]:
    """Alice (owner) and Bob in a group, each with a connection that joined it."""
    alice, bob = api.register("alice"), api.register("bob")
    room = api.create_group(alice, "features")
    status, _ = api.call("POST", f"/groups/{room}/members", {"username": bob.username}, alice.token)
    assert status == 201
    a, b = ChatClient(stack.ws_url, alice.token), ChatClient(stack.ws_url, bob.token)
    clients += [a, b]
    for client in (a, b):
        client.request({"type": "join", "roomId": room}, "joined")
    return alice, bob, room, a, b


def _say(client: ChatClient, room: int, text: str, **extra: Any) -> dict[str, Any]:
    message: dict[str, Any] = client.request({"type": "message", "roomId": room, "text": text, **extra}, "message")[
        "message"
    ]
    return message


def test_edit_delete_react_and_reply_reach_the_other_member(
    pair: tuple[Account, Account, int, ChatClient, ChatClient],
) -> None:
    """Each new frame type works over real sockets: Bob sees the edit, the reaction, the reply and the deletion."""
    _alice, bob, room, a, b = pair
    original = _say(a, room, "draft")
    b.expect("message", timeout=20)

    a.send({"type": "edit", "roomId": room, "messageId": original["id"], "text": "final"})
    edited = b.expect("message_edited")["message"]
    assert (edited["id"], edited["text"]) == (original["id"], "final") and edited["editedAt"] > 0

    b.send({"type": "react", "roomId": room, "messageId": original["id"], "emoji": "🔥"})
    assert a.expect("reaction")["reactions"] == [{"emoji": "🔥", "count": 1, "users": [bob.username]}]

    b.send({"type": "message", "roomId": room, "text": "agreed", "replyTo": original["id"]})
    reply = a.expect("message")["message"]
    assert reply["replyTo"] == {"id": original["id"], "sender": original["sender"], "text": "final"}

    a.send({"type": "delete", "roomId": room, "messageId": original["id"]})
    deleted = b.expect("message_deleted")
    assert deleted["messageId"] == original["id"] and deleted["message"]["deleted"] is True


def test_each_frame_is_refused_with_its_code(
    stack: StackProcess, api: Api, clients: list[ChatClient], pair: tuple[Account, Account, int, ChatClient, ChatClient]
) -> None:
    """Non-authors get ``forbidden``, unknown ids ``message_not_found``, bad input ``invalid_message``, and a
    non-member ``forbidden``, each over a real socket."""
    _alice, _bob, room, a, b = pair
    original = _say(a, room, "alice's")
    cases: list[tuple[ChatClient, dict[str, Any], str]] = [
        (b, {"type": "edit", "messageId": original["id"], "text": "mine now"}, "forbidden"),
        (b, {"type": "delete", "messageId": original["id"]}, "forbidden"),
        (a, {"type": "edit", "messageId": original["id"] + 10_000, "text": "x"}, "message_not_found"),
        (a, {"type": "react", "messageId": original["id"] + 10_000, "emoji": "👍"}, "message_not_found"),
        (a, {"type": "message", "text": "re", "replyTo": original["id"] + 10_000}, "message_not_found"),
        (a, {"type": "react", "messageId": original["id"], "emoji": "not-an-emoji"}, "invalid_message"),
    ]
    carol = api.register("carol")
    c = ChatClient(stack.ws_url, carol.token)
    clients.append(c)
    cases.append((c, {"type": "react", "messageId": original["id"], "emoji": "👍"}, "forbidden"))
    for client, frame, code in cases:
        error = client.request({"roomId": room, **frame}, "error")
        assert (error["code"], error["requestType"]) == (code, frame["type"]), frame


def test_a_client_away_during_an_edit_a_deletion_and_a_reaction_sees_all_three_after_catch_up(
    stack: StackProcess, clients: list[ChatClient], pair: tuple[Account, Account, int, ChatClient, ChatClient]
) -> None:
    """Bob's tab closes; Alice edits, deletes and reacts; Bob's new tab joins with since/sinceRev and gets all three."""
    _alice, bob, room, a, b = pair
    kept, doomed, liked = (_say(a, room, t) for t in ("typo", "oops", "nice"))
    for _ in range(3):
        b.expect("message")
    since, since_rev = liked["id"], max(m["rev"] for m in (kept, doomed, liked))
    b.close()

    a.send({"type": "edit", "roomId": room, "messageId": kept["id"], "text": "fixed"})
    a.expect("message_edited")
    a.send({"type": "delete", "roomId": room, "messageId": doomed["id"]})
    a.expect("message_deleted")
    a.send({"type": "react", "roomId": room, "messageId": liked["id"], "emoji": "❤️"})
    a.expect("reaction")

    back = ChatClient(stack.ws_url, bob.token)
    clients.append(back)
    joined = back.request({"type": "join", "roomId": room, "since": since, "sinceRev": since_rev}, "joined")
    changes = {m["id"]: m for m in joined["changes"]}
    assert changes[kept["id"]]["text"] == "fixed" and changes[kept["id"]]["editedAt"] > 0
    assert changes[doomed["id"]]["deleted"] is True and changes[doomed["id"]]["text"] == ""
    assert changes[liked["id"]]["reactions"][0]["emoji"] == "❤️"


def test_a_deleted_messages_text_is_gone_from_postgresql(
    stack_database: str, pair: tuple[Account, Account, int, ChatClient, ChatClient]
) -> None:
    """After ``delete`` no row of the messages table holds the text, nor does the search index."""
    _alice, _bob, room, a, _b = pair
    marker = "zebra-quokka-4711 secret"
    message = _say(a, room, marker)
    a.request({"type": "delete", "roomId": room, "messageId": message["id"]}, "message_deleted")
    with psycopg.connect(stack_database) as conn:
        row = conn.execute("SELECT content, search::text FROM messages WHERE id = %s", (message["id"],)).fetchone()
        hits = conn.execute("SELECT count(*) FROM messages WHERE content LIKE %s", ("%zebra-quokka%",)).fetchone()
    assert row == ("", "") and hits == (0,)


def test_a_mention_reaches_a_tab_that_is_not_looking_at_the_room(
    stack: StackProcess, clients: list[ChatClient], api: Api, pair: tuple[Account, Account, int, ChatClient, ChatClient]
) -> None:
    """``@bob`` notifies Bob's second tab (which never joined the room) with ``mention``; the room list counts it."""
    _alice, bob, room, a, _b = pair
    elsewhere = ChatClient(stack.ws_url, bob.token)
    clients.append(elsewhere)
    elsewhere.request({"type": "ping"}, "pong")
    message = _say(a, room, f"ping @{bob.username.upper()} please")
    mention = elsewhere.expect("mention")
    assert mention["roomId"] == room and mention["message"]["id"] == message["id"]
    status, body = api.call("GET", "/conversations", token=bob.token)
    assert status == 200
    listed = next(c for c in body["conversations"] if c["id"] == room)
    assert listed["mentions"] == 1 and listed["unread"] >= 1


def _upload(url: str, fields: dict[str, str], data: bytes, content_type: str) -> urllib3.BaseHTTPResponse:
    body, form_type = urllib3.encode_multipart_formdata({**fields, "file": ("f", data, content_type)})
    return urllib3.request("POST", url, body=body, headers={"Content-Type": form_type}, retries=False)


def test_an_attachment_goes_up_to_s3_and_down_to_members_only(
    stack: StackProcess, api: Api, pair: tuple[Account, Account, int, ChatClient, ChatClient]
) -> None:
    """Announce, upload by presigned POST through the stack, send, download as a member; a non-member gets no
    URL, and a file one byte over what was announced is refused by the policy (EntityTooLarge)."""
    alice, bob, room, a, b = pair
    data = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
    status, upload = api.call(
        "POST", f"/rooms/{room}/attachments", {"name": "dot.png", "size": len(data), "type": "image/png"}, alice.token
    )
    assert status == 201, upload
    assert upload["url"].startswith(stack.url + "/_s3/")
    too_big = _upload(upload["url"], upload["fields"], data + b"!", "image/png")
    assert too_big.status == 400 and b"EntityTooLarge" in too_big.data
    sent = _upload(upload["url"], upload["fields"], data, "image/png")
    assert sent.status == 204, sent.data

    message = _say(a, room, "a picture", attachments=[upload["id"]])
    assert message["attachments"] == [{"id": upload["id"], "name": "dot.png", "size": len(data), "type": "image/png"}]
    assert b.expect("message")["message"]["attachments"][0]["id"] == upload["id"]

    status, link = api.call("GET", f"/attachments/{upload['id']}", token=bob.token)
    assert status == 200 and link["inline"] is True
    got = urllib3.request("GET", link["url"], retries=False)
    assert got.status == 200 and got.data == data and got.headers["Content-Type"] == "image/png"

    carol = api.register("carol")
    status, refused = api.call("GET", f"/attachments/{upload['id']}", token=carol.token)
    assert status == 403 and "url" not in refused


def test_search_finds_only_what_the_caller_may_read(
    api: Api, pair: tuple[Account, Account, int, ChatClient, ChatClient]
) -> None:
    """A word from a private room Bob is not in never comes back to Bob; his own room's does."""
    alice, bob, room, a, _b = pair
    hidden = api.create_group(alice, "hidden", private=True)
    word = "xylophonic"
    _say(a, room, f"the {word} plan")
    a.request({"type": "join", "roomId": hidden}, "joined")
    _say(a, hidden, f"the {word} secret")
    status, body = api.call("GET", f"/search?q={word[:6]}", token=bob.token)
    assert status == 200
    assert [(r["room"]["id"], r["message"]["text"]) for r in body["results"]] == [(room, f"the {word} plan")]
    status, alice_view = api.call("GET", f"/search?q={word}", token=alice.token)
    assert sorted(r["room"]["id"] for r in alice_view["results"]) == sorted([room, hidden])
