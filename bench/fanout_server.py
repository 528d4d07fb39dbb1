"""The fan-out benchmark's far side: the local stack's API Gateway emulator with N real WebSockets open.

Run as ``python -m bench.fanout_server`` (the benchmark starts it). It serves the emulator's real
Management API (``POST /@connections/{id}``, the very handler ``chat-local`` runs) and adds, for the
benchmark only:

* ``/_bench/ws`` -- a WebSocket endpoint registered with the emulator *without* ``$connect``: the fan-out
  benchmark measures the Management API path, so it needs no DynamoDB, PostgreSQL or tokens;
* ``POST /_bench/clients`` ``{"count": n}`` -- open connections (real aiohttp WebSocket clients in this
  process) until n are open, and list their connection ids;
* ``GET /_bench/received`` -- frames each client has received, by connection id;
* ``POST /_bench/latency`` ``{"ms": x}`` -- the emulator's added Management API latency.

The clients live here, with the emulator, so that the benchmark process (the "Lambda" doing the
fan-out) measures only its own CPU. The Management API checks SigV4 as in ``chat-local``, with the
credentials of this process's environment (which the benchmark process signs with).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys

import aiohttp
from aiohttp import web
from chat_local.events import SocketInfo, new_connection_id, now_ms
from chat_local.gateway import STAGE, Gateway, GatewayConfig, LocalConnection


class FanoutServer:
    def __init__(self, latency_ms: float) -> None:
        self.gateway = Gateway(GatewayConfig(management_latency=latency_ms / 1000, idle_timeout=3600))
        self.received: dict[str, int] = {}
        self._clients: list[tuple[aiohttp.ClientWebSocketResponse, asyncio.Task[None]]] = []
        self._session: aiohttp.ClientSession | None = None
        self._pending: dict[str, asyncio.Future[str]] = {}
        self.url = ""
        app = self.gateway.app
        app.router.add_get("/_bench/ws", self._bench_socket)
        app.router.add_post("/_bench/clients", self._open_clients)
        app.router.add_get("/_bench/received", self._received)
        app.router.add_post("/_bench/latency", self._set_latency)

    async def _bench_socket(self, request: web.Request) -> web.StreamResponse:
        info = SocketInfo(
            connection_id=new_connection_id(),
            connected_at=now_ms(),
            source_ip=request.remote or "127.0.0.1",
            user_agent="bench",
            domain_name=request.host,
            stage=STAGE,
        )
        socket = web.WebSocketResponse(autoping=True)
        await socket.prepare(request)
        self.gateway.connections[info.connection_id] = LocalConnection(info=info, socket=socket)
        self.received[info.connection_id] = 0
        # The client learns its id in the first frame, so counts can be kept per connection.
        await socket.send_str(info.connection_id)
        try:
            async for _msg in socket:
                pass
        finally:
            self.gateway.connections.pop(info.connection_id, None)
        return socket

    async def _client(self, ready: asyncio.Future[str]) -> None:
        assert self._session is not None
        ws = await self._session.ws_connect(f"{self.url}/_bench/ws", autoping=True, max_msg_size=0)
        first = await ws.receive()
        connection_id = str(first.data)
        ready.set_result(connection_id)
        self._clients.append((ws, asyncio.current_task()))  # type: ignore[arg-type]
        async for msg in ws:
            if msg.type == aiohttp.WSMsgType.TEXT:
                self.received[connection_id] += 1

    async def _open_clients(self, request: web.Request) -> web.Response:
        body = await request.json()
        wanted = int(body["count"])
        if self._session is None:
            self._session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
        while len(self._clients) < wanted:
            batch = min(100, wanted - len(self._clients))
            futures = [asyncio.get_running_loop().create_future() for _ in range(batch)]
            for future in futures:
                asyncio.get_running_loop().create_task(self._client(future))
            await asyncio.wait_for(asyncio.gather(*futures), timeout=60)
        return web.json_response(sorted(self.received))

    async def _received(self, _request: web.Request) -> web.Response:
        return web.json_response(self.received)

    async def _set_latency(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.gateway.config.management_latency = float(body["ms"]) / 1000
        return web.json_response({"ms": self.gateway.config.management_latency * 1000})

    async def serve(self, host: str, port: int) -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        runner = web.AppRunner(self.gateway.app, access_log=None, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, host, port, backlog=4096)
        await site.start()
        self.url = f"http://{host}:{runner.addresses[0][1]}"
        print(f"ready: {self.url}", flush=True)
        await stop.wait()
        # A throwaway process: closing a thousand sockets politely takes longer than the benchmark.
        sys.stdout.flush()
        os._exit(0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--latency-ms", type=float, default=0.0)
    args = parser.parse_args()
    asyncio.run(FanoutServer(args.latency_ms).serve(args.host, args.port))


if __name__ == "__main__":
    main()
