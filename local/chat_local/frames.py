"""WebSocket frames as API Gateway limits them: 32 KB a frame, 128 KB a message, text only.

API Gateway's quotas for WebSocket APIs: a frame is at most 32 KB and a message at most 128 KB, so "messages
larger than 32 KB must be split into multiple frames, each 32 KB or smaller. This applies to @connections
commands. If a larger message (or larger frame size) is received, the connection is closed with code 1009."
A binary frame closes the connection with 1003.

aiohttp assembles fragments before the application sees a message, so the frame sizes are checked in
front of its parser: :class:`FrameGuard` reads each client frame's header as the bytes arrive and lets
through only frames within the limits (control frames always: the client's close still reaches aiohttp).
The first frame over a limit is dropped with every later data frame, and ``on_violation`` closes the
connection. :func:`write_text` sends a message the other way, split into frames of at most 32 KB.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any, Protocol

FRAME_BYTES = 32 * 1024
MESSAGE_BYTES = 128 * 1024
MESSAGE_TOO_BIG = (1009, "Message too big")
UNSUPPORTED_DATA = (1003, "Unsupported data")

_CONTINUATION, _TEXT, _BINARY = 0x0, 0x1, 0x2
_CONTROL = 0x8


class _Parser(Protocol):
    def feed_data(self, data: bytes) -> tuple[bool, bytes]: ...

    def feed_eof(self) -> None: ...


def _header_length(header: bytes | bytearray) -> int:
    """How many bytes the frame header starting with ``header`` has (2 until its second byte is known)."""
    if len(header) < 2:
        return 2
    length7 = header[1] & 0x7F
    extended = 2 if length7 == 126 else 8 if length7 == 127 else 0
    return 2 + extended + (4 if header[1] & 0x80 else 0)


def _parse(header: bytes | bytearray) -> tuple[bool, int, int]:
    fin, opcode, length7 = bool(header[0] & 0x80), header[0] & 0x0F, header[1] & 0x7F
    if length7 == 126:
        length = struct.unpack(">H", bytes(header[2:4]))[0]
    elif length7 == 127:
        length = struct.unpack(">Q", bytes(header[2:10]))[0]
    else:
        length = length7
    return fin, opcode, length


class FrameGuard:
    """Sits in front of aiohttp's WebSocket parser and passes it only the frames API Gateway accepts."""

    def __init__(
        self,
        inner: _Parser,
        on_violation: Callable[[int, str], None],
        *,
        frame_bytes: int = FRAME_BYTES,
        message_bytes: int = MESSAGE_BYTES,
    ) -> None:
        self._inner = inner
        self._on_violation = on_violation
        self._frame_bytes = frame_bytes
        self._message_bytes = message_bytes
        self._header = bytearray()
        self._remaining = 0
        self._passing = True
        self._message = 0
        self.violation: tuple[int, str] | None = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def _allow(self, fin: bool, opcode: int, length: int) -> bool:
        if opcode >= _CONTROL:
            return True
        if self.violation is not None:
            return False
        if opcode == _BINARY:
            return self._refuse(UNSUPPORTED_DATA)
        if length > self._frame_bytes:
            return self._refuse(MESSAGE_TOO_BIG)
        self._message = (self._message if opcode == _CONTINUATION else 0) + length
        if self._message > self._message_bytes:
            return self._refuse(MESSAGE_TOO_BIG)
        if fin:
            self._message = 0
        return True

    def _refuse(self, violation: tuple[int, str]) -> bool:
        self.violation = violation
        self._on_violation(*violation)
        return False

    def feed_data(self, data: bytes | bytearray | memoryview) -> tuple[bool, bytes]:
        data = bytes(data)
        passed = bytearray()
        index = 0
        while index < len(data):
            if self._remaining:
                step = min(self._remaining, len(data) - index)
                if self._passing:
                    passed += data[index : index + step]
                self._remaining -= step
                index += step
                continue
            while len(self._header) < _header_length(self._header) and index < len(data):
                self._header.append(data[index])
                index += 1
            if len(self._header) < _header_length(self._header):
                break  # the rest of this header comes with the next read
            fin, opcode, length = _parse(self._header)
            self._passing = self._allow(fin, opcode, length)
            if self._passing:
                passed += self._header
            self._header = bytearray()
            self._remaining = length
        if passed:
            return self._inner.feed_data(bytes(passed))
        return False, b""

    def feed_eof(self) -> None:
        self._inner.feed_eof()


def frame_header(fin: bool, opcode: int, length: int) -> bytes:
    """An unmasked (server) frame header."""
    first = (0x80 if fin else 0) | opcode
    if length < 126:
        return struct.pack(">BB", first, length)
    if length < 65536:
        return struct.pack(">BBH", first, 126, length)
    return struct.pack(">BBQ", first, 127, length)


def text_frames(data: bytes, frame_bytes: int = FRAME_BYTES) -> list[bytes]:
    """``data`` as one text message in frames of at most ``frame_bytes`` (a text frame, then continuations)."""
    chunks = [data[i : i + frame_bytes] for i in range(0, len(data), frame_bytes)] or [b""]
    return [
        frame_header(index == len(chunks) - 1, _TEXT if index == 0 else _CONTINUATION, len(chunk)) + chunk
        for index, chunk in enumerate(chunks)
    ]
