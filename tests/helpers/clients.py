"""Clients for tests: a WebSocket chat client that buffers frames, and a small REST caller."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

Frame = dict[str, Any]
F = TypeVar("F")
#: API Gateway's largest WebSocket frame: a longer message must be sent in several (fragmented) frames.
FRAME_BYTES = 32 * 1024


@dataclass
class Account:
    username: str
    password: str
    token: str
    user_id: int


class Api:
    """Calls the HTTP API of a running stack (``base`` ends without a slash, e.g. ``http://h:p/api``)."""

    def __init__(self, base: str) -> None:
        self.base = base

    def call(
        self, method: str, path: str, body: Any = None, token: str | None = None, headers: dict[str, str] | None = None
    ) -> tuple[int, Any]:
        data = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
        all_headers = {"content-type": "application/json", **(headers or {})}
        if token:
            all_headers["authorization"] = f"Bearer {token}"
        request = urllib.request.Request(self.base + path, data=data, method=method, headers=all_headers)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                raw = response.read()
                status = response.status
        except urllib.error.HTTPError as error:
            raw, status = error.read(), error.code
        if not raw:
            return status, None
        try:
            return status, json.loads(raw)
        except ValueError:  # a plain-text error page: keep the status visible
            return status, raw.decode(errors="replace")

    def register(self, prefix: str = "user", password: str = "correct horse battery") -> Account:
        username = f"{prefix}_{uuid.uuid4().hex[:10]}"
        status, body = self.call("POST", "/auth/register", {"username": username, "password": password})
        assert status == 201, body
        return Account(username, password, body["token"], body["user"]["id"])

    def create_group(self, account: Account, name: str = "room", private: bool = False) -> int:
        status, body = self.call("POST", "/groups", {"name": name, "private": private}, account.token)
        assert status == 201, body
        return int(body["id"])


class FrameQueue(Generic[F]):
    """Frames kept in arrival order until a test takes them; ``_read`` adds what one receive brought."""

    frames: list[F]
    closed: bool

    def _read(self, timeout: float) -> object:
        raise NotImplementedError

    def wait_for(self, predicate: Callable[[F], bool], timeout: float = 20.0, what: str = "frame") -> F:
        """The first unconsumed frame ``predicate`` accepts; consumed. Fails on timeout or close."""
        deadline = time.monotonic() + timeout
        while True:
            for index, frame in enumerate(self.frames):
                if predicate(frame):
                    return self.frames.pop(index)
            remaining = deadline - time.monotonic()
            if remaining <= 0 or self.closed:
                raise AssertionError(f"no {what} within {timeout}s; received {self.frames}")
            self._read(min(remaining, 0.5))


class ChatClient(FrameQueue[Frame]):
    """One WebSocket connection; frames are kept in arrival order until a test takes them."""

    def __init__(self, ws_url: str, token: str | None, **connect_kwargs: Any) -> None:
        url = ws_url if token is None else f"{ws_url}?token={token}"
        # A User-Agent of its own: how a test finds this connection's id (GET /_local/connections lists each
        # connection's identity), since no frame ever carries a connection id.
        connect_kwargs.setdefault("user_agent_header", f"chat-tests/{uuid.uuid4().hex}")
        self.user_agent: str = connect_kwargs["user_agent_header"]
        self._connection = connect(url, open_timeout=15, max_size=2**22, **connect_kwargs)
        self.socket: ClientConnection = self._connection.__enter__()
        self.frames: list[Frame] = []
        """Frames received and not yet taken by a test."""
        self.received: list[Frame] = []
        """Every frame received, in order, taken or not."""
        self.closed = False

    def send(self, frame: Frame | str) -> None:
        self.socket.send(frame if isinstance(frame, str) else json.dumps(frame))

    def send_in_frames(self, message: Frame | str, frame_bytes: int = FRAME_BYTES) -> None:
        """One message split into frames of at most ``frame_bytes`` (API Gateway takes 32 KB a frame)."""
        data = (message if isinstance(message, str) else json.dumps(message)).encode()
        pieces = [data[i : i + frame_bytes] for i in range(0, len(data), frame_bytes)]
        self.socket.send(iter(pieces), text=True)  # an iterable goes as one fragmented message

    def _read(self, timeout: float) -> Frame | None:
        try:
            raw = self.socket.recv(timeout=timeout)
        except TimeoutError:
            return None
        except ConnectionClosed:
            self.closed = True
            return None
        frame: Frame = json.loads(raw)
        self.frames.append(frame)
        self.received.append(frame)
        return frame

    def expect(self, kind: str, timeout: float = 20.0, **fields: Any) -> Frame:
        """The first unconsumed frame of ``kind`` whose fields match; consumed. Fails on timeout."""
        return self.wait_for(
            lambda f: f.get("type") == kind and all(f.get(k) == v for k, v in fields.items()),
            timeout,
            f"{kind} {fields}",
        )

    def request(self, frame: Frame, reply: str, timeout: float = 20.0) -> Frame:
        """Send ``frame`` and wait for the reply of type ``reply`` (or an error, which fails)."""
        self.send(frame)
        got = self.wait_for(lambda f: f.get("type") in (reply, "error"), timeout, reply)
        assert got["type"] == reply, got
        return got

    def drain(self, quiet: float = 0.3) -> list[Frame]:
        """Everything that arrives until ``quiet`` seconds pass with nothing new; consumed."""
        while self._read(quiet) is not None:
            pass
        taken, self.frames = self.frames, []
        return taken

    def messages(self, kind: str, wait: float = 0.5) -> list[Frame]:
        """All frames of ``kind`` that arrive within ``wait`` seconds, consumed."""
        deadline = time.monotonic() + wait
        while (remaining := deadline - time.monotonic()) > 0 and not self.closed:
            self._read(min(remaining, 0.2))
        taken = [f for f in self.frames if f.get("type") == kind]
        self.frames = [f for f in self.frames if f.get("type") != kind]
        return taken

    def close(self) -> None:
        self.socket.close()
        self.closed = True


def before_marker(watcher: ChatClient, actor: ChatClient, room_id: int) -> list[Frame]:
    """Every frame ``watcher`` received before a marker message that ``actor`` posts to ``room_id`` now; consumed.

    The positive control of "nothing arrives": ``actor`` sends the marker after the action under test, so
    a frame that action caused would have been posted to ``watcher`` first; no fixed wait is involved.
    """
    return before_marker_everywhere([watcher], actor, room_id)[0]


def before_marker_everywhere(watchers: list[ChatClient], actor: ChatClient, room_id: int) -> list[list[Frame]]:
    """:func:`before_marker` for several watchers of one room, with one marker."""
    text = f"marker {uuid.uuid4().hex}"
    actor.send({"type": "message", "roomId": room_id, "text": text})
    earlier = []
    for watcher in watchers:
        watcher.wait_for(
            lambda f: f.get("type") == "message" and f["message"]["text"] == text, what=f"the marker in room {room_id}"
        )
        earlier.append(watcher.frames)
        watcher.frames = []
    return earlier


def local_connections(base: str) -> list[Frame]:
    """``GET /_local/connections`` of the stack at ``base`` (its root URL): id, connectedAt, identity of each."""
    status, body = Api(base).call("GET", "/_local/connections")
    assert status == 200, body
    return list(body)


def connection_id(base: str, client: ChatClient) -> str:
    """The connection id of ``client``, found by its User-Agent among the stack's open connections."""
    (found,) = [c["connectionId"] for c in local_connections(base) if c["identity"]["userAgent"] == client.user_agent]
    return str(found)
