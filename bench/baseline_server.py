"""The end-to-end benchmark's baseline: a minimal ``websockets`` chat server, all in one process.

Run as ``python -m bench.baseline_server`` (the benchmark starts it); prints ``ready: ws://HOST:PORT``.
It speaks just enough of the chat protocol for the benchmark's clients: ``join`` answers ``joined`` and
subscribes the socket to the room; ``message`` is numbered and sent to every socket in the room with
``websockets.broadcast``, in the same frame shape as the real chat. No authentication, no storage, no
Lambda, no Management API: the floor that a single-process server sets.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import signal
import time
from collections import defaultdict
from typing import Any

import websockets
from websockets.asyncio.server import ServerConnection, serve

rooms: defaultdict[int, set[ServerConnection]] = defaultdict(set)
message_ids = itertools.count(1)


async def chat(socket: ServerConnection) -> None:
    joined: set[int] = set()
    try:
        async for raw in socket:
            try:
                frame: dict[str, Any] = json.loads(raw)
                room_id = int(frame.get("roomId", 0))
            except (ValueError, TypeError):
                continue
            if frame.get("type") == "join":
                rooms[room_id].add(socket)
                joined.add(room_id)
                await socket.send(json.dumps({"type": "joined", "roomId": room_id, "members": [], "history": []}))
            elif frame.get("type") == "message":
                message = {
                    "id": next(message_ids),
                    "roomId": room_id,
                    "senderId": 0,
                    "sender": "bench",
                    "text": frame.get("text", ""),
                    "ts": int(time.time() * 1000),
                    "clientMsgId": frame.get("clientMsgId"),
                }
                payload = json.dumps({"type": "message", "roomId": room_id, "message": message})
                websockets.broadcast(rooms[room_id] | {socket}, payload)
    finally:
        for room_id in joined:
            rooms[room_id].discard(socket)


async def main(host: str, port: int) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with serve(chat, host, port, max_size=2**20) as server:
        bound = next(iter(server.sockets)).getsockname()[1]
        print(f"ready: ws://{host}:{bound}", flush=True)
        await stop.wait()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    asyncio.run(main(args.host, args.port))
