"""The frame guard in front of aiohttp's parser: 32 KB a frame, 128 KB a message, no binary, any read split."""

from __future__ import annotations

import os
import struct

import pytest
from chat_local.frames import FrameGuard, frame_header, text_frames


class Recorder:
    """Stands in for aiohttp's parser: keeps what it is fed."""

    def __init__(self) -> None:
        self.fed = bytearray()

    def feed_data(self, data: bytes) -> tuple[bool, bytes]:
        self.fed += data
        return False, b""

    def feed_eof(self) -> None:
        pass


def client_frame(opcode: int, payload: bytes, *, fin: bool = True) -> bytes:
    """A masked frame, as a client sends it."""
    first = (0x80 if fin else 0) | opcode
    n = len(payload)
    if n < 126:
        header = struct.pack(">BB", first, 0x80 | n)
    elif n < 65536:
        header = struct.pack(">BBH", first, 0x80 | 126, n)
    else:
        header = struct.pack(">BBQ", first, 0x80 | 127, n)
    mask = os.urandom(4)
    return header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


LAST_OVER = client_frame(0, b"c" * 51)  # 100 + 100 + 51: one byte over the message limit


def guarded() -> tuple[FrameGuard, Recorder, list[tuple[int, str]]]:
    inner, violations = Recorder(), []
    guard = FrameGuard(
        inner, lambda code, reason: violations.append((code, reason)), frame_bytes=100, message_bytes=250
    )
    return guard, inner, violations


def feed(guard: FrameGuard, data: bytes, chunk: int) -> None:
    for i in range(0, len(data), chunk or len(data)):
        guard.feed_data(data[i : i + (chunk or len(data))])


@pytest.mark.parametrize("chunk", [0, 1, 3, 7], ids=["whole", "bytewise", "by-3", "by-7"])
def test_frames_within_the_limits_pass_unchanged_however_the_reads_split(chunk: int) -> None:
    """Frames up to the frame limit, and a fragmented message up to the message limit, reach the parser as sent."""
    guard, inner, violations = guarded()
    data = (
        client_frame(1, b"x" * 100)
        + client_frame(1, b"a" * 100, fin=False)
        + client_frame(0, b"b" * 100, fin=False)
        + client_frame(9, b"ping")  # a control frame inside a fragmented message
        + client_frame(0, b"c" * 50)
    )
    feed(guard, data, chunk)
    assert bytes(inner.fed) == data and violations == []


@pytest.mark.parametrize(
    ("frames", "violation"),
    [
        ([client_frame(1, b"x" * 101)], 1009),
        (
            [
                client_frame(1, b"a" * 100, fin=False),
                client_frame(0, b"b" * 100, fin=False),
                client_frame(0, b"c" * 51),
            ],
            1009,
        ),
        ([client_frame(2, b"\x00\x01")], 1003),
    ],
    ids=["frame-too-big", "message-too-big", "binary"],
)
def test_the_first_frame_over_a_limit_and_all_data_after_it_are_dropped(frames: list[bytes], violation: int) -> None:
    """The offending frame never reaches the parser, nor data frames after it; control frames (the close) still do."""
    guard, inner, violations = guarded()
    close = client_frame(8, struct.pack(">H", 1000))
    feed(guard, b"".join(frames) + client_frame(1, b"later") + close, 5)
    assert [code for code, _ in violations] == [violation]
    assert b"later" not in inner.fed and inner.fed.endswith(close)
    assert b"\x00\x01" not in inner.fed


def test_server_messages_are_split_into_frames_of_the_limit() -> None:
    """``text_frames``: a text frame then continuations, FIN on the last, each payload at most the limit."""
    frames = text_frames(b"y" * 250, 100)
    assert [f[0] for f in frames] == [0x01, 0x00, 0x80]
    assert [len(f) - 2 for f in frames] == [100, 100, 50]
    assert text_frames(b"hi") == [frame_header(True, 1, 2) + b"hi"]
