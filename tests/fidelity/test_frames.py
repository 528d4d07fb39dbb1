"""Frames: 32 KB a frame, 128 KB a message, text only, route selection on the JSON body."""

from __future__ import annotations

import contextlib
import json
import logging
import re
from collections.abc import Iterator

import pytest
from websockets.exceptions import ConnectionClosed

from tests.fidelity.conftest import management
from tests.fidelity.probe import Probe
from tests.helpers.stack import StackProcess

KB = 1024


def padded(size: int) -> str:
    """An ``echo`` frame of exactly ``size`` bytes."""
    frame = json.dumps({"type": "echo", "tag": "padded", "pad": ""})
    text = frame[:-2] + "x" * (size - len(frame)) + '"}'
    assert len(text.encode()) == size
    return text


def in_frames(text: str, frame_bytes: int = 32 * KB) -> list[bytes]:
    data = text.encode()
    return [data[i : i + frame_bytes] for i in range(0, len(data), frame_bytes)]


def test_a_frame_of_32_kb_passes_and_one_byte_more_closes_with_1009(probe_stack: StackProcess, probe: Probe) -> None:
    """Quotas page (WebSocket frame size 32 KB): a larger frame closes the connection with code 1009."""
    probe.send(padded(32 * KB))
    assert probe.wait_for(lambda f: isinstance(f, dict) and f.get("tag") == "padded")["route"] == "echo"
    probe.send(padded(32 * KB + 1))
    assert probe.closed_with()[0] == 1009


def test_a_fragmented_message_may_reach_128_kb_and_no_more(probe_stack: StackProcess, probe: Probe) -> None:
    """Quotas page (message payload 128 KB, sent as frames of 32 KB at most): 128 KB passes; more closes with 1009."""
    probe.socket.send(iter(in_frames(padded(128 * KB))), text=True)
    assert probe.wait_for(lambda f: isinstance(f, dict) and f.get("tag") == "padded")["route"] == "echo"
    # The gateway closes as soon as the total passes 128 KB, which may be before the client's closing
    # (empty, final) fragment is written: that write then fails, and the close code is what counts.
    with contextlib.suppress(ConnectionClosed):
        probe.socket.send(iter(in_frames(padded(128 * KB + 1))), text=True)
    assert probe.closed_with()[0] == 1009


def test_a_binary_frame_closes_with_1003(probe: Probe) -> None:
    """Binary media types for WebSocket APIs: API Gateway rejects a binary frame and disconnects with 1003."""
    probe.echo()  # the connection works
    probe.send(b"\x00\x01binary")
    assert probe.closed_with()[0] == 1003


def test_posts_over_32_kb_reach_the_client_in_frames_of_32_kb(
    probe_stack: StackProcess, received_frames: list[str], probe: Probe
) -> None:
    """Quotas page: messages over 32 KB are split into frames of 32 KB at most, @connections posts included."""
    body = json.dumps({"type": "big", "pad": "y" * (100 * KB)}).encode()
    management(probe_stack).post_to_connection(ConnectionId=probe.connection_id, Data=body)
    assert probe.wait_for(lambda f: isinstance(f, dict) and f.get("type") == "big")["pad"] == "y" * (100 * KB)
    sizes = [int(re.search(r"(\d+) bytes", line).group(1)) for line in received_frames]  # type: ignore[union-attr]
    assert sizes and max(sizes) <= 32 * KB and sum(sizes) >= len(body)


@pytest.fixture
def received_frames(caplog: pytest.LogCaptureFixture) -> Iterator[list[str]]:
    """The websockets client's frame log: one line per frame received (``< TEXT ... [N bytes]``, ``< CONT``)."""
    caplog.set_level(logging.DEBUG, logger="websockets.client")
    lines: list[str] = []

    class Frames(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            message = record.getMessage()
            if message.startswith(("< TEXT", "< CONT")):
                lines.append(message)

    handler = Frames()
    logging.getLogger("websockets.client").addHandler(handler)
    yield lines
    logging.getLogger("websockets.client").removeHandler(handler)


@pytest.mark.parametrize(
    ("frame", "route"),
    [
        ({"type": "echo"}, "echo"),
        ({"type": 1}, "1"),
        ({"type": True}, "true"),
        ({"type": "nothing-like-it"}, "$default"),
        ({"other": "echo"}, "$default"),
        ("not json at all", "$default"),
        ("[" * 5000 + "]" * 5000, "$default"),
        ('{"type": ' + "[" * 5000 + "]" * 5000 + "}", "$default"),
    ],
    ids=["string", "number", "boolean", "unknown", "missing", "not-json", "deep-array", "deep-type"],
)
def test_route_selection_on_the_json_body(probe: Probe, frame: dict[str, object] | str, route: str) -> None:
    """Route selection expressions ($request.body.type): a value is its route, stringified; else $default."""
    probe.send(frame)
    answer = probe.wait_for(lambda f: isinstance(f, dict) and f.get("type") == "echo")
    assert answer["route"] == answer["event"]["requestContext"]["routeKey"] == route
