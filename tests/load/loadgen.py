"""A load generator of resilient chat clients, and the checks that nothing was lost or duplicated.

Each client behaves like the web UI's socket module: it joins its room, sends messages with a
``clientMsgId``, reconnects with backoff when the socket closes, rejoins with ``since`` = the last
message id it has, merges the catch-up without duplicates, and resends every message not yet
acknowledged (the server stores and broadcasts a retried ``clientMsgId`` once).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import time
import uuid
from collections import Counter
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import psycopg
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from tests.helpers.clients import Account, Api


@dataclass
class LoadClient:
    account: Account
    room_id: int
    ws_url: str
    to_send: int
    interval: tuple[float, float]
    rng: random.Random
    live: list[int] = field(default_factory=list)
    """Message ids in the order they arrived as live ``message`` frames."""
    merged: dict[int, dict[str, Any]] = field(default_factory=dict)
    """Every message this client has, live or from catch-up, by id (what a UI shows)."""
    acked: dict[str, int] = field(default_factory=dict)
    """clientMsgId -> message id, for the messages the server confirmed."""
    pending: dict[str, str] = field(default_factory=dict)
    errors: Counter[str] = field(default_factory=Counter)
    reconnects: int = 0
    reacks: int = 0
    """Acknowledgments of resent messages that had already been stored and broadcast."""
    sent_at: dict[str, float] = field(default_factory=dict)
    last_try: dict[str, float] = field(default_factory=dict)
    latencies: list[float] = field(default_factory=list)
    _socket: ClientConnection | None = None
    _joined: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def last_id(self) -> int:
        return max(self.merged, default=0)

    def _take(self, message: dict[str, Any], *, live: bool) -> None:
        own = message["senderId"] == self.account.user_id
        if live and own and message.get("clientMsgId") in self.acked and message["id"] in self.merged:
            # The server's answer to a resend of a message it had stored: an acknowledgment for this
            # sender alone, not a second broadcast (the others never see it).
            self.reacks += 1
            return
        if live:
            self.live.append(message["id"])
        self.merged.setdefault(message["id"], message)
        if own and message.get("clientMsgId") in self.pending:
            client_msg_id = message["clientMsgId"]
            self.pending.pop(client_msg_id)
            self.acked[client_msg_id] = message["id"]
            if client_msg_id in self.sent_at:
                self.latencies.append(time.monotonic() - self.sent_at.pop(client_msg_id))

    async def _send_pending(self) -> None:
        for client_msg_id, text in list(self.pending.items()):
            await self._send({"type": "message", "roomId": self.room_id, "text": text, "clientMsgId": client_msg_id})

    async def _send(self, frame: dict[str, Any]) -> None:
        socket = self._socket
        if socket is None:
            return  # resent after the reconnect
        with contextlib.suppress(ConnectionClosed):  # resent after the reconnect
            await socket.send(json.dumps(frame))

    async def _reader(self, socket: ClientConnection) -> None:
        async for raw in socket:
            frame = json.loads(raw)
            kind = frame.get("type")
            if kind == "message":
                self._take(frame["message"], live=True)
            elif kind == "joined":
                for message in frame["history"]:
                    self._take(message, live=False)
                self._joined.set()
                await self._send_pending()
            elif kind == "error":
                self.errors[frame["code"]] += 1
                if frame["code"] in ("save_failed", "rate_limited", "unavailable"):
                    asyncio.get_running_loop().call_later(
                        0.5 + self.rng.random(), lambda: asyncio.ensure_future(self._send_pending())
                    )

    async def connection_loop(self, stop: asyncio.Event) -> None:
        """Stay connected until ``stop``; reconnect with exponential backoff and jitter."""
        backoff = 0.2
        while not stop.is_set():
            try:
                # No library keepalive: the protocol's own ping is the app's; a saturated local machine
                # must not turn slow pongs into spurious reconnects.
                async with connect(
                    f"{self.ws_url}?token={self.account.token}", open_timeout=30, max_size=2**22, ping_interval=None
                ) as socket:
                    backoff = 0.2
                    self._socket = socket
                    join: dict[str, Any] = {"type": "join", "roomId": self.room_id}
                    if self.merged:
                        join["since"] = self.last_id
                    await socket.send(json.dumps(join))
                    reader = asyncio.create_task(self._reader(socket))
                    stopper = asyncio.create_task(stop.wait())
                    await asyncio.wait({reader, stopper}, return_when=asyncio.FIRST_COMPLETED)
                    stopper.cancel()
                    if stop.is_set():
                        reader.cancel()
                        return
            except (OSError, ConnectionClosed, InvalidStatus, TimeoutError):
                pass
            self._socket = None
            self._joined.clear()
            if stop.is_set():
                return
            self.reconnects += 1
            await asyncio.sleep(backoff * (0.5 + self.rng.random()))
            backoff = min(backoff * 2, 3.0)

    async def resend_unacknowledged(self, stop: asyncio.Event, after: float = 5.0) -> None:
        """Resend messages unconfirmed for ``after`` seconds (a frame lost with its socket, a failed invoke)."""
        while not stop.is_set():
            await asyncio.sleep(after / 2)
            now = time.monotonic()
            for client_msg_id, text in list(self.pending.items()):
                if now - self.last_try.get(client_msg_id, now) >= after:
                    self.last_try[client_msg_id] = now
                    await self._send(
                        {"type": "message", "roomId": self.room_id, "text": text, "clientMsgId": client_msg_id}
                    )

    async def sender(self) -> None:
        await self._joined.wait()
        for n in range(self.to_send):
            await asyncio.sleep(self.rng.uniform(*self.interval))
            client_msg_id = uuid.uuid4().hex
            text = f"{self.account.username} #{n}"
            self.pending[client_msg_id] = text
            self.sent_at[client_msg_id] = self.last_try[client_msg_id] = time.monotonic()
            await self._send({"type": "message", "roomId": self.room_id, "text": text, "clientMsgId": client_msg_id})


@dataclass
class LoadResult:
    clients: list[LoadClient]
    rooms: list[int]
    seconds: float

    def room_clients(self, room_id: int) -> list[LoadClient]:
        return [c for c in self.clients if c.room_id == room_id]

    @property
    def acknowledged(self) -> dict[str, int]:
        return {k: v for c in self.clients for k, v in c.acked.items()}

    def summary(self) -> str:
        deliveries = sum(len(c.live) for c in self.clients)
        latencies = sorted(x for c in self.clients for x in c.latencies)

        def pct(p: float) -> float:
            return latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000 if latencies else 0.0

        errors = sum((c.errors for c in self.clients), Counter())
        return (
            f"{len(self.clients)} clients in {len(self.rooms)} rooms: {len(self.acknowledged)} messages acknowledged,"
            f" {deliveries} live deliveries in {self.seconds:.1f}s; ack latency p50 {pct(0.5):.0f} ms,"
            f" p99 {pct(0.99):.0f} ms; reconnects {sum(c.reconnects for c in self.clients)};"
            f" resends acknowledged again {sum(c.reacks for c in self.clients)}; errors {dict(errors)}"
        )


def register_accounts(api: Api, count: int, prefix: str = "load") -> list[Account]:
    with ThreadPoolExecutor(max_workers=8) as pool:
        return list(pool.map(lambda _: api.register(prefix), range(count)))


class Progress:
    """What a running load has done so far, for fault injection that waits on events rather than time."""

    def __init__(self, clients: list[LoadClient]) -> None:
        self._clients = clients

    def acknowledged(self) -> int:
        return sum(len(c.acked) for c in self._clients)

    def errors(self, code: str) -> int:
        return sum(c.errors[code] for c in self._clients)

    async def until(self, condition: Any) -> None:
        """Return once ``condition()`` holds; a minute at most (TimeoutError)."""
        async with asyncio.timeout(60):
            while not condition():  # noqa: ASYNC110 - polling the clients' counters
                await asyncio.sleep(0.05)


async def run_load(
    *,
    ws_url: str,
    accounts: list[Account],
    rooms: list[int],
    messages_each: int,
    interval: tuple[float, float] = (0.1, 0.8),
    seed: int = 7,
    settle_timeout: float = 120.0,
    during: Any = None,
) -> LoadResult:
    """Connect every account to a room (round robin), send, wait until every client has every message.

    ``during`` is an optional coroutine function run once the senders are going (fault injection); it is
    given a :class:`Progress` of the run, so it can time its fault by what has happened, not by the clock.
    """
    rng = random.Random(seed)
    clients = [
        LoadClient(account, rooms[i % len(rooms)], ws_url, messages_each, interval, random.Random(rng.random()))
        for i, account in enumerate(accounts)
    ]
    stop = asyncio.Event()
    started = time.monotonic()
    loops = [asyncio.create_task(c.connection_loop(stop)) for c in clients]
    loops += [asyncio.create_task(c.resend_unacknowledged(stop)) for c in clients]
    await asyncio.wait_for(asyncio.gather(*(c._joined.wait() for c in clients)), settle_timeout)
    senders = [asyncio.create_task(c.sender()) for c in clients]
    if during is not None:
        await during(Progress(clients))
    await asyncio.gather(*senders)

    expected = len(clients) * messages_each

    def settled() -> bool:
        if any(c.pending for c in clients) or len({k for c in clients for k in c.acked}) < expected:
            return False
        acked_by_room = Counter(c.room_id for c in clients for _ in c.acked)
        return all(len(c.merged) >= acked_by_room[c.room_id] for c in clients)

    deadline = time.monotonic() + settle_timeout
    while not settled() and time.monotonic() < deadline:  # noqa: ASYNC110 - polling many clients' state
        await asyncio.sleep(0.2)
    elapsed = time.monotonic() - started
    stop.set()
    await asyncio.gather(*loops, return_exceptions=True)
    return LoadResult(clients, rooms, elapsed)


def stored_messages(database_url: str, rooms: Iterable[int]) -> list[tuple[int, int, str | None]]:
    """``(room_id, id, client_msg_id)`` of every stored message of ``rooms``, by id."""
    with psycopg.connect(database_url) as conn:
        return [
            (row[0], row[1], row[2])
            for row in conn.execute(
                "SELECT room_id, id, client_msg_id FROM messages WHERE room_id = ANY(%s) ORDER BY id",
                (list(rooms),),
            )
        ]


def verify(result: LoadResult, database_url: str, *, live_exactly_once: bool) -> None:
    """Nothing lost, nothing duplicated, one order per room, and the database holds what was acknowledged.

    With ``live_exactly_once`` (no faults), every receiver must also have got every message of its
    room exactly once as a live frame; with faults, catch-up on rejoin fills what a dropped socket missed.
    """
    stored = stored_messages(database_url, result.rooms)
    acknowledged = result.acknowledged
    expected_total = sum(c.to_send for c in result.clients)
    assert len(acknowledged) == expected_total, f"{expected_total - len(acknowledged)} messages never acknowledged"
    assert sorted(acknowledged.values()) == [row[1] for row in stored], "database differs from what was acknowledged"
    assert len({row[2] for row in stored}) == len(stored), "a clientMsgId was stored twice"
    for room_id in result.rooms:
        room_ids = [row[1] for row in stored if row[0] == room_id]
        for client in result.room_clients(room_id):
            assert sorted(client.merged) == room_ids, f"{client.account.username} misses or has extra messages"
            if live_exactly_once:
                assert sorted(client.live) == room_ids, f"{client.account.username}: live deliveries differ"
                assert len(client.live) == len(set(client.live)), f"{client.account.username} got a duplicate"
        if live_exactly_once:
            for client in result.room_clients(room_id):
                # Each sender's messages were stored in the order it sent them.
                numbered = sorted((int(client.merged[i]["text"].rsplit("#", 1)[1]), i) for i in client.acked.values())
                in_send_order = [message_id for _, message_id in numbered]
                assert in_send_order == sorted(in_send_order), f"{client.account.username} stored out of order"
