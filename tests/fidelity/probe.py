"""A WebSocket client for the probe app: frames as text or JSON, close codes, and the probe's routes."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import ClientConnection, connect

from tests.helpers.clients import Api, FrameQueue
from tests.helpers.stack import StackProcess

Frame = Any  # a JSON frame (dict), or the text of one that is not JSON


def parse(raw: str | bytes) -> Frame:
    try:
        return json.loads(raw)
    except ValueError:
        return raw if isinstance(raw, str) else raw.decode(errors="replace")


#: How long a probe keeps trying an upgrade the $connect route's throttle refused (10 new connections a
#: second in the probe app: quick tests open more), as a client backs off on 429.
THROTTLED_RETRY_SECONDS = 10.0


class Probe(FrameQueue[Frame]):
    """One connection to the probe app; frames are kept in arrival order until a test takes them.

    An upgrade refused with 429 (the probe app's $connect throttle) is tried again until
    :data:`THROTTLED_RETRY_SECONDS` pass, unless ``retry_throttled`` is false (the throttling test's own).
    """

    def __init__(
        self, stack: StackProcess, mode: str = "ok", *, retry_throttled: bool = True, **connect_kwargs: Any
    ) -> None:
        connect_kwargs.setdefault("user_agent_header", f"probe/{uuid.uuid4().hex}")
        self.user_agent: str = connect_kwargs["user_agent_header"]
        self.stack = stack
        url = f"{stack.ws_url}?mode={mode}"
        deadline = time.monotonic() + (THROTTLED_RETRY_SECONDS if retry_throttled else 0)
        while True:
            try:
                self._connection = connect(url, open_timeout=15, max_size=2**22, **connect_kwargs)
                break
            except InvalidStatus as refused:
                if refused.response.status_code != 429 or time.monotonic() >= deadline:
                    raise
                time.sleep(0.1)  # the bucket refills 10 a second: one more token is 0.1 s away
        self.socket: ClientConnection = self._connection.__enter__()
        self.frames: list[Frame] = []
        self.closed = False

    def send(self, frame: dict[str, Any] | str | bytes) -> None:
        self.socket.send(frame if isinstance(frame, str | bytes) else json.dumps(frame))

    def _read(self, timeout: float) -> bool:
        try:
            raw = self.socket.recv(timeout=timeout)
        except TimeoutError:
            return False
        except ConnectionClosed:
            self.closed = True
            return False
        self.frames.append(parse(raw))
        return True

    def message(self, text: str, timeout: float = 20.0) -> Frame:
        """API Gateway's own frame ``{"message": text, "connectionId", "requestId"}``; consumed."""
        return self.wait_for(lambda f: isinstance(f, dict) and f.get("message") == text, timeout, repr(text))

    def echo(self, timeout: float = 20.0, **fields: Any) -> dict[str, Any]:
        """Send an ``echo`` frame (with a fresh ``tag``) and return the probe's answer to it."""
        tag = uuid.uuid4().hex
        self.send({"type": "echo", "tag": tag, **fields})
        answer: dict[str, Any] = self.wait_for(
            lambda f: isinstance(f, dict) and f.get("tag") == tag, timeout, f"the echo {tag}"
        )
        return answer

    @property
    def connection_id(self) -> str:
        return str(self.echo()["event"]["requestContext"]["connectionId"])

    def keep_active(self, pause: float = 0.3) -> bool:
        """Send a frame and read for ``pause`` seconds; False once the connection is closed."""
        try:
            self.send({"type": "echo", "tag": "active"})
        except ConnectionClosed:
            self.closed = True
        deadline = time.monotonic() + pause
        while not self.closed and (remaining := deadline - time.monotonic()) > 0:
            self._read(remaining)
        self.frames = [f for f in self.frames if not (isinstance(f, dict) and f.get("tag") == "active")]
        return not self.closed

    def keep_open(self) -> bool:
        """Read what has arrived, sending nothing; False once the connection is closed."""
        while not self.closed and self._read(0.01):
            pass
        return not self.closed

    def before_marker(self) -> list[Frame]:
        """Every frame received before an echo sent now; consumed (the positive control of "nothing arrived").

        Call it once the actions under test have been handled to the end (:func:`settled`): whatever they
        sent has then been sent before the marker's answer.
        """
        self.echo()
        earlier, self.frames = self.frames, []
        return earlier

    def closed_with(self, timeout: float = 15.0) -> tuple[int, str]:
        """The close frame the server sent: (code, reason); waits for it."""
        deadline = time.monotonic() + timeout
        while not self.closed and time.monotonic() < deadline:
            self._read(min(0.5, max(0.0, deadline - time.monotonic())))
        assert self.closed, f"still open after {timeout}s"
        received = self.socket.protocol.close_rcvd
        assert received is not None, "the connection ended without a close frame"
        return received.code, received.reason

    def close(self) -> None:
        self.socket.close()
        self.closed = True


def records(watcher: Probe, connection_id: str, kind: str, timeout: float = 20.0) -> dict[str, Any]:
    """The event the probe's ``$connect``/``$disconnect`` (``kind``) recorded for ``connection_id``, polled."""
    deadline = time.monotonic() + timeout
    while True:
        watcher.send({"type": "records", "connectionId": connection_id})
        answer = watcher.wait_for(lambda f: isinstance(f, dict) and f.get("type") == "records", what="records")
        if kind in answer["records"]:
            event: dict[str, Any] = answer["records"][kind]
            return event
        assert time.monotonic() < deadline, f"no {kind} recorded for {connection_id} within {timeout}s"
        time.sleep(0.1)  # between polls of something that happens elsewhere (a $disconnect), not a wait for it


def listing(stack: StackProcess, connection_id: str) -> dict[str, Any] | None:
    """This connection in ``GET /_local/connections`` (None when gone)."""
    status, body = Api(stack.url).call("GET", "/_local/connections")
    assert status == 200, body
    found = [c for c in body if c["connectionId"] == connection_id]
    return found[0] if found else None


def settled(stack: StackProcess, connection_id: str, timeout: float = 20.0) -> None:
    """Wait until every frame this connection sent has been handled to the end (``inFlight`` 0)."""
    deadline = time.monotonic() + timeout
    while (entry := listing(stack, connection_id)) is not None and entry["inFlight"]:
        assert time.monotonic() < deadline, f"{connection_id} still has frames in flight"
        time.sleep(0.05)


def functions(stack: StackProcess) -> dict[str, Any]:
    """``GET /_local/functions``: each function's pool."""
    status, body = Api(stack.url).call("GET", "/_local/functions")
    assert status == 200, body
    return dict(body)
