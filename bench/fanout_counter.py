"""A counting stand-in for the Management API, for the large-room benchmark (:mod:`bench.fanout_large`).

Run as ``python -m bench.fanout_counter --latency-ms 15`` (the benchmark starts it). It answers
``POST <stage>/@connections/{id}`` with 200 after ``--latency-ms`` (API Gateway's round trip) and counts
the posts, per connection id. There are no sockets behind the ids: at 100,000 connections the benchmark
measures the fan-out (the registry's shards, the queue, the workers, the shared budget), not a
WebSocket server, so a post "reaches" a connection when this endpoint has counted it.

Why not :mod:`bench.fanout_server`: that one is the local stack's real emulator holding real WebSockets
(a client per connection in its process), which is right for 1,000 connections and out of reach at
100,000 on a small machine. This one is a bare asyncio HTTP/1.1 server (keep-alive, ``Content-Length``
bodies; what ``http.client`` sends), so that it costs a small fraction of the posting side's CPU and is
not what a run measures. It does not check SigV4 (the emulator's tests do).

Control routes:

* ``GET /_counts``: ``{"posts": n, "distinct": k, "most": m, "first": t0, "last": t1}`` (``most``: the
  most posts one id got; ``first``/``last``: ``time.monotonic()`` of the first and last post answered,
  the system-wide clock, so the benchmark process can compare it with its own);
* ``GET /_ids``: posts by connection id (small runs: the harness test);
* ``POST /_reset``: forget everything counted.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import time
from urllib.parse import unquote

_MARKER = b"/@connections/"


class Counts:
    def __init__(self) -> None:
        self.by_id: dict[str, int] = {}
        self.posts = 0
        self.first = 0.0
        self.last = 0.0

    def add(self, connection_id: str) -> None:
        now = time.monotonic()
        if not self.posts:
            self.first = now
        self.posts += 1
        self.last = now
        self.by_id[connection_id] = self.by_id.get(connection_id, 0) + 1

    def summary(self) -> dict[str, float]:
        return {
            "posts": self.posts,
            "distinct": len(self.by_id),
            "most": max(self.by_id.values(), default=0),
            "first": self.first,
            "last": self.last,
        }


def _response(status: str, body: bytes = b"", content_type: str = "application/json") -> bytes:
    head = f"HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {len(body)}\r\n\r\n"
    return head.encode() + body


class _Connection(asyncio.Protocol):
    """One keep-alive client connection: requests parsed as they arrive, each answered in turn."""

    def __init__(self, server: CounterServer) -> None:
        self._server = server
        self._buffer = b""
        self._transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        while True:
            head_end = self._buffer.find(b"\r\n\r\n")
            if head_end < 0:
                return
            head = self._buffer[:head_end].decode("latin-1")
            lines = head.split("\r\n")
            length = 0
            for line in lines[1:]:
                name, _, value = line.partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value.strip())
            end = head_end + 4 + length
            if len(self._buffer) < end:
                return
            self._buffer = self._buffer[end:]
            method, path, *_ = lines[0].split(" ")
            self._handle(method, path)

    def _handle(self, method: str, path: str) -> None:
        server = self._server
        marker = path.find(_MARKER.decode())
        if method == "POST" and marker >= 0:
            connection_id = unquote(path[marker + len(_MARKER) :])
            loop = asyncio.get_running_loop()
            loop.call_later(server.latency, self._answer_post, connection_id)
            return
        if path == "/_counts":
            self._write(_response("200 OK", json.dumps(server.counts.summary()).encode()))
        elif path == "/_ids":
            self._write(_response("200 OK", json.dumps(server.counts.by_id).encode()))
        elif path == "/_reset" and method == "POST":
            server.counts = Counts()
            self._write(_response("200 OK", b"{}"))
        else:
            self._write(_response("404 Not Found", b'{"message":"Not Found"}'))

    def _answer_post(self, connection_id: str) -> None:
        self._server.counts.add(connection_id)
        self._write(_response("200 OK"))

    def _write(self, data: bytes) -> None:
        if self._transport is not None and not self._transport.is_closing():
            self._transport.write(data)

    def connection_lost(self, exc: Exception | None) -> None:
        self._transport = None


class CounterServer:
    def __init__(self, latency_ms: float) -> None:
        self.latency = latency_ms / 1000
        self.counts = Counts()

    async def serve(self, host: str, port: int) -> None:
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        server = await loop.create_server(lambda: _Connection(self), host, port, backlog=1024)
        bound = server.sockets[0].getsockname()[1]
        # A stage path like API Gateway's; the posts' path is <stage>/@connections/<id>.
        print(f"ready: http://{host}:{bound}/bench", flush=True)
        await stop.wait()
        server.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--latency-ms", type=float, default=15.0)
    args = parser.parse_args()
    asyncio.run(CounterServer(args.latency_ms).serve(args.host, args.port))


if __name__ == "__main__":
    main()
