"""Benchmark 2, end to end: 100 WebSocket clients in one room, one message every 100 ms.

The local stack (``chat-local`` as a child process, with its embedded PostgreSQL and moto's DynamoDB)
gets 100 registered users, each on its own WebSocket, all joined to one public room. Then the clients
take turns sending one ``message`` every 100 ms (the room, not each client, sends ten a second: each
client stays far inside the per-connection rate limit) for 20 s (5 s with ``--quick``). Every client
timestamps every ``message`` frame it receives; latency is receive time minus the sender's send time
(one process, one clock), over all deliveries (sender included). A delivery that has not arrived
within 15 s after the last send counts as lost.

The same clients then drive :mod:`bench.baseline_server`, a minimal single-process ``websockets``
broadcast server, with the same schedule. Our p99 over the baseline's p99 is the headline.

The stack also logs every Lambda invocation's duration; the ``message`` handler's durations, here and
in rooms of 2 and 10 connections, feed the cost model in :mod:`bench.sizes`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import shutil
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chat_local.processes import ReadyProcess
from websockets.asyncio.client import ClientConnection, connect

from bench.common import (
    REPO_ROOT,
    Section,
    Target,
    cpu_ticks,
    fmt,
    md_table,
    median,
    percentile,
    processes,
    progress,
)

CLIENTS = 100
#: ``--quick`` keeps the shape but not the size: fewer clients (setup grows with the square) for 3 s.
QUICK_CLIENTS = 30
INTERVAL = 0.1
#: Sent at the same pace before the measured run and not counted (containers warm, as in a steady room).
WARMUP_SECONDS = 2.0
#: A delivery not received this long after the last send counts as lost (late ones are in the latencies).
SETTLE_SECONDS = 120.0
COST_ROOM_SIZES = (2, 10)
"""Rooms timed for the cost model besides the big one."""
#: The handler is timed for the cost model at a pace the local stack keeps up with in every room size.
COST_INTERVAL = 0.5
#: The capacity sweep: messages a second into a room of this many connections, rising until p99 passes
#: the limit (or a delivery is lost); each rate is held for the seconds given.
SWEEP_ROOM = 50
SWEEP_RATES = (10, 20, 30, 40, 50, 60, 80, 100)
QUICK_SWEEP_RATES = (10, 30)
SWEEP_SECONDS = 8.0
QUICK_SWEEP_SECONDS = 2.0
SWEEP_P99_MS = 500.0
SWEEP_WARMUP_SECONDS = 4.0
"""Unmeasured seconds at each new rate: a higher rate starts more ``message`` containers, and each one's
init and first invocation take about a second of CPU from the same two cores (in AWS they run on their
own); measured from 2 s, such a start fell in the measured window and moved the capacity by a step."""
QUICK_SWEEP_WARMUP_SECONDS = 2.0
"""``--quick``'s: its figures are a smoke run's, not the ones the targets are judged on."""
_HANDLER_LOG = re.compile(r"\s(message|\$default|join)\s+\S+ (\d{3}) \((\d+) ms\)")


@dataclass
class Client:
    index: int
    url: str
    socket: ClientConnection | None = None
    joined: dict[int, asyncio.Event] = field(default_factory=dict)
    errors: Counter[str] = field(default_factory=Counter)
    reader: asyncio.Task[None] | None = None


@dataclass
class Run:
    """One load run's bookkeeping (all clients share it: one process, one clock)."""

    expected: int = 0
    sent_at: dict[str, float] = field(default_factory=dict)
    latencies: list[float] = field(default_factory=list)
    complete: asyncio.Event = field(default_factory=asyncio.Event)
    seen: set[tuple[int, str]] = field(default_factory=set)
    duplicates: int = 0
    send_failures: int = 0

    def on_message(self, client: int, client_msg_id: str | None, received: float) -> None:
        if client_msg_id is None or client_msg_id not in self.sent_at:
            return
        key = (client, client_msg_id)
        if key in self.seen:
            self.duplicates += 1
            return
        self.seen.add(key)
        self.latencies.append(received - self.sent_at[client_msg_id])
        if len(self.latencies) >= self.expected:
            self.complete.set()


class Load:
    """The benchmark's clients, usable against our stack and the baseline alike."""

    def __init__(self, urls: list[str]) -> None:
        self.clients = [Client(i, url) for i, url in enumerate(urls)]
        self.run: Run | None = None

    async def _read(self, client: Client) -> None:
        assert client.socket is not None
        async for raw in client.socket:
            received = time.perf_counter()
            frame = json.loads(raw)
            kind = frame.get("type")
            if kind == "message" and self.run is not None:
                self.run.on_message(client.index, (frame.get("message") or {}).get("clientMsgId"), received)
            elif kind == "joined":
                event = client.joined.get(int(frame.get("roomId", 0)))
                if event is not None:
                    event.set()
            elif kind == "error":
                client.errors[str(frame.get("code"))] += 1

    async def open(self) -> None:
        # Four at a time, as in join: each connection beyond the warm containers starts another, whose cold
        # start takes the two cores from the rest (ten at a time took 30 clients 8.8 s to connect and join).
        limit = asyncio.Semaphore(4)

        async def one(client: Client) -> None:
            async with limit:
                client.socket = await connect(client.url, open_timeout=60, max_size=2**22, ping_interval=None)
                client.reader = asyncio.get_running_loop().create_task(self._read(client))

        await asyncio.gather(*(one(c) for c in self.clients))

    async def join(self, room_id: int, members: list[Client] | None = None) -> None:
        limit = asyncio.Semaphore(4)

        async def one(client: Client) -> None:
            async with limit:
                assert client.socket is not None
                event = client.joined.setdefault(room_id, asyncio.Event())
                await client.socket.send(json.dumps({"type": "join", "roomId": room_id}))
                await asyncio.wait_for(event.wait(), timeout=60)

        await asyncio.gather(*(one(c) for c in members or self.clients))

    async def send_schedule(
        self, room_id: int, count: int, senders: list[Client], receivers: int, label: str, interval: float = INTERVAL
    ) -> dict[str, Any]:
        """Send ``count`` messages, one every ``interval`` seconds, senders in turn; wait for every delivery."""
        run = self.run = Run(expected=count * receivers)
        tag = uuid.uuid4().hex[:8]
        loop = asyncio.get_running_loop()
        started = loop.time()
        for i in range(count):
            delay = started + i * interval - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            sender = senders[i % len(senders)]
            client_msg_id = f"{tag}-{i}"
            frame = json.dumps(
                {"type": "message", "roomId": room_id, "text": f"bench {i}", "clientMsgId": client_msg_id}
            )
            run.sent_at[client_msg_id] = time.perf_counter()
            try:
                assert sender.socket is not None
                await sender.socket.send(frame)
            except Exception:
                run.send_failures += 1
            if (i + 1) % max(1, count // 4) == 0:
                progress(f"e2e {label}: sent {i + 1}/{count}, {len(run.latencies)} deliveries so far")
        expected = run.expected
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(run.complete.wait(), timeout=SETTLE_SECONDS)
        self.run = None
        latencies_ms = [x * 1000 for x in run.latencies]
        return {
            "messages": count,
            "receivers": receivers,
            "expected": expected,
            "delivered": len(latencies_ms),
            "lost": expected - len(latencies_ms),
            "duplicates": run.duplicates,
            "send_failures": run.send_failures,
            "p50_ms": percentile(latencies_ms, 50),
            "p95_ms": percentile(latencies_ms, 95),
            "p99_ms": percentile(latencies_ms, 99),
            "max_ms": max(latencies_ms, default=float("nan")),
            "send_seconds": loop.time() - started,
            "latencies_ms": latencies_ms,
        }

    def errors(self) -> dict[str, int]:
        total: Counter[str] = Counter()
        for client in self.clients:
            total.update(client.errors)
        return dict(total)

    async def close(self) -> None:
        for client in self.clients:
            if client.socket is not None:
                await client.socket.close()
        for client in self.clients:
            if client.reader is not None:
                client.reader.cancel()


# ---------------------------------------------------------------- the stack's REST API


def _api(base: str, method: str, path: str, body: Any = None, token: str | None = None) -> Any:
    headers = {"content-type": "application/json"}
    if token:
        headers["authorization"] = f"Bearer {token}"
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(base + path, data=data, method=method, headers=headers)  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310 - the local stack
            return json.loads(response.read())
    except urllib.error.HTTPError as error:
        raise RuntimeError(f"{method} {path} answered {error.code}: {error.read()[:300]!r}") from None


def register_users(api: str, count: int) -> list[dict[str, Any]]:
    tag = uuid.uuid4().hex[:6]

    def one(i: int) -> dict[str, Any]:
        body = {"username": f"bench_{tag}_{i:03d}", "password": "correct horse battery staple"}
        return dict(_api(api, "POST", "/auth/register", body))

    with ThreadPoolExecutor(max_workers=4) as pool:
        return list(pool.map(one, range(count)))


def create_room(api: str, token: str, name: str) -> int:
    return int(_api(api, "POST", "/groups", {"name": name, "private": False}, token)["id"])


def handler_durations(log_path: Path, start: int) -> dict[str, list[int]]:
    """Durations (ms) of the invocations the stack logged after byte ``start``, by route."""
    text = log_path.read_bytes()[start:].decode(errors="replace")
    found: dict[str, list[int]] = {}
    for match in _HANDLER_LOG.finditer(text):
        found.setdefault(match.group(1), []).append(int(match.group(3)))
    return found


def _stack_registry(log_path: Path) -> tuple[Any, str] | None:
    """A DynamoDB client on the stack's moto server (its log names it) and the registry table's name."""
    import boto3

    found = re.search(r"ready at (http://[\w.:]+)", log_path.read_text(errors="replace"))
    if not found:
        return None
    client = boto3.client(
        "dynamodb",
        endpoint_url=found.group(1),
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",  # noqa: S106 - moto's
    )
    tables = client.list_tables()["TableNames"]
    return (client, tables[0]) if len(tables) == 1 else None


def _stand_in_query_ms(log_path: Path, room_id: int) -> float:
    """What one Query of the room's connections costs the stack's DynamoDB stand-in (moto), median ms."""
    from chatcore.aws.registry import ConnectionRegistry

    stack = _stack_registry(log_path)
    if stack is None:
        return float("nan")
    registry = ConnectionRegistry(*stack)
    took = []
    for _ in range(5):
        started = time.perf_counter()
        registry.room_connection_ids(room_id)  # what the message handler asks for every message
        took.append((time.perf_counter() - started) * 1000)
    return median(took)


def _units(log_path: Path, room_id: int) -> dict[str, Any]:
    """DynamoDB units of one message to the room and of one ``$connect`` of its first member, now and in
    the registry layout before (see :mod:`bench.units`), from the items the stack stored."""
    from chatcore.aws.registry import CONNECTION_SK

    from bench.units import costs

    stack = _stack_registry(log_path)
    if stack is None:
        return {}
    client, table = stack
    room_items = client.query(
        TableName=table,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": f"room#{room_id}#0"}},
        ConsistentRead=True,
    )["Items"]
    if not room_items:
        return {}
    key = {"pk": room_items[0]["sk"], "sk": {"S": CONNECTION_SK}}
    connection = client.get_item(TableName=table, Key=key, ConsistentRead=True).get("Item", {})
    rooms = len(connection.get("subs", {}).get("SS", [])) or 1
    return {"rooms_of_user": rooms, **costs(connection, room_items, room_id, rooms)}


# ---------------------------------------------------------------- CPU by process


def _process_kind(pid: int, cmdline: str) -> str:
    """What a process of the local stack is: the gateway, moto, PostgreSQL, or a container of a function."""
    if "chat_local.worker" in cmdline:
        with contextlib.suppress(OSError):
            for entry in Path(f"/proc/{pid}/environ").read_bytes().split(b"\0"):
                if entry.startswith(b"AWS_LAMBDA_FUNCTION_NAME="):
                    name = entry.split(b"=", 1)[1].decode()
                    # chat-prod-MessageFunction477FF9F9 -> message
                    return re.sub(r"Function[0-9A-F]*$", "", name.split("-")[-1]).lower() or name
        return "function"
    if "chat_local.moto_server" in cmdline:
        return "moto"
    if "postgres" in cmdline:
        return "postgres"
    return "gateway"


def stack_cpu(root: int) -> dict[str, float]:
    """CPU seconds (user + system) used so far by the processes of the stack whose process id is ``root``
    (itself and every descendant alive now), by kind; Linux only (empty elsewhere)."""
    ticks = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    alive = processes()
    totals: dict[str, float] = {}
    for pid, (_parent, words) in alive.items():
        ancestor = pid
        while ancestor not in (root, 0, 1) and ancestor in alive:
            ancestor = alive[ancestor][0]
        if ancestor != root:
            continue
        kind = _process_kind(pid, " ".join(words))
        totals[kind] = totals.get(kind, 0.0) + cpu_ticks(pid) / ticks
    return totals


def cpu_ms_per_message(before: dict[str, float], after: dict[str, float], messages: int) -> dict[str, float]:
    """CPU milliseconds per message by kind between two :func:`stack_cpu` readings (kinds that used any)."""
    used = {kind: (after.get(kind, 0.0) - before.get(kind, 0.0)) * 1000 / max(1, messages) for kind in after}
    return {kind: ms for kind, ms in sorted(used.items(), key=lambda kv: -kv[1]) if ms > 0}


# ---------------------------------------------------------------- the benchmark


async def _ours(work_dir: Path, count: int, clients: int, warmup: int) -> dict[str, Any]:
    chat_local = shutil.which("chat-local", path=str(Path(sys.executable).parent)) or "chat-local"
    log_path = work_dir / "chat-local.log"
    # The stack as the tests run it, /_local/* included (--test-endpoints), on a random local port.
    args = ["--port", "0", "--data-dir", str(work_dir / "data"), "--prune-interval", "3600", "--test-endpoints"]
    stack = ReadyProcess(
        [chat_local, *args],
        log_path=log_path,
        cwd=REPO_ROOT,
    )
    progress("e2e: starting chat-local (embedded PostgreSQL, moto DynamoDB, the gateway)")
    with stack:
        api = stack.url + "/api"
        began = time.monotonic()
        users = await asyncio.to_thread(register_users, api, clients)
        progress(f"e2e: {len(users)} users registered in {time.monotonic() - began:.1f} s")
        room_id = create_room(api, users[0]["token"], "bench room")
        ws = stack.url.replace("http://", "ws://") + "/ws"
        load = Load([f"{ws}?token={u['token']}" for u in users])
        began = time.monotonic()
        await load.open()
        await load.join(room_id)
        progress(f"e2e: {clients} clients connected and joined in {time.monotonic() - began:.1f} s")
        await asyncio.sleep(1.0)  # the member_joined announcements settle
        # Warm-up at the same pace, not counted: a steady room runs on warm containers.
        await load.send_schedule(room_id, warmup, load.clients, clients, "ours warm-up")
        mark = log_path.stat().st_size
        result = await load.send_schedule(room_id, count, load.clients, clients, "ours")
        await asyncio.sleep(0.5)
        result["handler_ms"] = handler_durations(log_path, mark).get("message", [])
        if count >= 100:  # the full run measures twice in a row: a target met once may be luck
            second = await load.send_schedule(room_id, count, load.clients, clients, "ours, run 2")
            result["second"] = {k: v for k, v in second.items() if k != "latencies_ms"}
        result["errors"] = load.errors()
        by_size: dict[str, list[int]] = {}
        paced_runs: dict[str, dict[str, Any]] = {}
        cost_count = 3 if count < 100 else 20
        for size in (*COST_ROOM_SIZES, clients):
            members = load.clients[:size]
            room = room_id
            if size != clients:
                room = create_room(api, users[0]["token"], f"bench room {size}")
                await load.join(room, members)
            await asyncio.sleep(0.5)
            mark = log_path.stat().st_size
            paced = await load.send_schedule(room, cost_count, members, size, f"room of {size}", COST_INTERVAL)
            await asyncio.sleep(0.5)  # the emulator logs an invocation after its last post was answered
            by_size[str(size)] = handler_durations(log_path, mark).get("message", [])
            paced_runs[str(size)] = paced
        assert stack.process is not None
        result["sweep"], sweep_room = await _sweep(
            api, users[0]["token"], load, quick=count < 100, stack_pid=stack.process.pid
        )
        result["units"] = await asyncio.to_thread(_units, log_path, sweep_room)
        result["dynamodb_query_ms"] = await asyncio.to_thread(_stand_in_query_ms, log_path, room_id)
        result["handler_ms_by_room_size"] = by_size
        result["paced"] = paced_runs
        await load.close()
    return result


async def _sweep(api: str, token: str, load: Load, *, quick: bool, stack_pid: int) -> tuple[list[dict[str, Any]], int]:
    """Messages a second into a room of :data:`SWEEP_ROOM` connections, rising until p99 passes
    :data:`SWEEP_P99_MS` or a delivery is lost; one row per rate held (with the CPU each process of the
    stack, and the clients, used per message), and the room's id."""
    members = load.clients[:SWEEP_ROOM]
    room = create_room(api, token, "bench sweep")
    await load.join(room, members)
    await asyncio.sleep(0.5)  # the member_joined announcements settle
    rows = []
    for rate in QUICK_SWEEP_RATES if quick else SWEEP_RATES:
        count = int(rate * (QUICK_SWEEP_SECONDS if quick else SWEEP_SECONDS))
        # Each rate first runs unmeasured for a while, so the containers it needs are warm: a steady rate.
        warmup = int(rate * (QUICK_SWEEP_WARMUP_SECONDS if quick else SWEEP_WARMUP_SECONDS))
        await load.send_schedule(room, warmup, members, len(members), f"sweep {rate}/s warm-up", 1.0 / rate)
        before, clients_before, began = stack_cpu(stack_pid), time.process_time(), time.monotonic()
        run = await load.send_schedule(room, count, members, len(members), f"sweep {rate}/s", 1.0 / rate)
        cpu = cpu_ms_per_message(before, stack_cpu(stack_pid), count)
        cpu["clients"] = (time.process_time() - clients_before) * 1000 / max(1, count)
        run["cpu_ms"], run["cpu_wall_s"] = cpu, time.monotonic() - began
        rows.append({"rate": rate, **{k: v for k, v in run.items() if k != "latencies_ms"}})
        progress(f"e2e sweep: {rate} messages/s into {len(members)}: p99 {run['p99_ms']:.0f} ms, lost {run['lost']}")
        if run["p99_ms"] > SWEEP_P99_MS or run["lost"]:
            break
    return rows, room


def sweep_capacity(rows: list[dict[str, Any]]) -> float:
    """The highest rate the sweep held with p99 within :data:`SWEEP_P99_MS` and nothing lost (0 if none)."""
    return max((r["rate"] for r in rows if r["p99_ms"] <= SWEEP_P99_MS and not r["lost"]), default=0.0)


async def _baseline(count: int, clients: int, warmup: int) -> dict[str, Any]:
    server = ReadyProcess(
        [sys.executable, "-m", "bench.baseline_server", "--port", "0"],
        log_path=Path("/dev/null") if sys.platform != "win32" else Path("nul"),
        cwd=REPO_ROOT,
    )
    with server:
        load = Load([f"{server.url}/?token=none" for _ in range(clients)])
        await load.open()
        await load.join(1)
        await asyncio.sleep(0.5)
        await load.send_schedule(1, warmup, load.clients, clients, "baseline warm-up")
        result = await load.send_schedule(1, count, load.clients, clients, "baseline")
        result["errors"] = load.errors()
        await load.close()
    return result


def run(quick: bool, out_dir: Path, work_dir: Path) -> Section:
    work_dir.mkdir(parents=True, exist_ok=True)
    seconds = 3 if quick else 20
    clients = QUICK_CLIENTS if quick else CLIENTS
    count = int(seconds / INTERVAL)
    warmup = int((WARMUP_SECONDS / 2 if quick else WARMUP_SECONDS) / INTERVAL)
    ours = asyncio.run(_ours(work_dir, count, clients, warmup))
    progress(f"e2e ours: p50 {ours['p50_ms']:.1f} ms, p99 {ours['p99_ms']:.1f} ms, lost {ours['lost']}")
    baseline = asyncio.run(_baseline(count, clients, warmup))
    progress(f"e2e baseline: p50 {baseline['p50_ms']:.1f} ms, p99 {baseline['p99_ms']:.1f} ms, lost {baseline['lost']}")
    plots = _plot(ours, baseline, out_dir, clients)
    return _section(ours, baseline, plots, quick, seconds, clients, warmup * INTERVAL)


def _section(
    ours: dict[str, Any],
    baseline: dict[str, Any],
    plots: list[str],
    quick: bool,
    seconds: int,
    clients: int,
    warmup_seconds: float,
) -> Section:
    rows = []
    runs = [("ours (local stack)", ours)]
    if ours.get("second"):
        runs.append(("ours, run 2 (right after)", ours["second"]))
    for name, r in (*runs, ("baseline (`websockets` server)", baseline)):
        rows.append(
            [
                name,
                r["messages"],
                f"{r['delivered']:,} / {r['expected']:,}",
                r["lost"],
                r["duplicates"],
                fmt(r["p50_ms"]),
                fmt(r["p95_ms"]),
                fmt(r["p99_ms"]),
                fmt(r["max_ms"]),
            ]
        )
    table = md_table(
        ["server", "messages", "deliveries", "lost", "duplicates", "p50 ms", "p95 ms", "p99 ms", "max ms"], rows
    )
    worst_p99 = max(r["p99_ms"] for _, r in runs)
    ratio = worst_p99 / baseline["p99_ms"] if baseline["p99_ms"] else float("nan")
    handler_rows = []
    for size, values in ours["handler_ms_by_room_size"].items():
        paced = ours.get("paced", {}).get(size, {})
        handler_rows.append(
            [
                size,
                len(values),
                fmt(median(values), 0),
                fmt(percentile(values, 95), 0),
                f"{paced.get('delivered', 0):,} / {paced.get('expected', 0):,}",
                fmt(paced.get("p50_ms", float("nan"))),
                fmt(paced.get("p99_ms", float("nan"))),
            ]
        )
    handler_table = md_table(
        [
            "room size (connections)",
            "messages",
            "handler ms (median)",
            "handler ms (p95)",
            "deliveries",
            "send-to-receive p50 ms",
            "p99 ms",
        ],
        handler_rows,
    )
    sweep = ours.get("sweep", [])
    capacity = sweep_capacity(sweep)
    sweep_table = md_table(
        ["messages/s offered", "sent in s", "deliveries", "lost", "p50 ms", "p99 ms", "max ms"],
        [
            [
                r["rate"],
                fmt(r["send_seconds"]),
                f"{r['delivered']:,} / {r['expected']:,}",
                r["lost"],
                fmt(r["p50_ms"]),
                fmt(r["p99_ms"]),
                fmt(r["max_ms"]),
            ]
            for r in sweep
        ],
    )
    kinds = sorted(
        {k for r in sweep for k in r.get("cpu_ms", {})},
        key=lambda k: -max(r.get("cpu_ms", {}).get(k, 0.0) for r in sweep),
    )
    cpu_table = md_table(
        ["messages/s offered", *kinds, "total", "cores busy"],
        [
            [
                r["rate"],
                *(fmt(r["cpu_ms"].get(k, 0.0)) for k in kinds),
                fmt(sum(r["cpu_ms"].values())),
                fmt(sum(r["cpu_ms"].values()) * r["messages"] / 1000 / r["cpu_wall_s"]),
            ]
            for r in sweep
            if r.get("cpu_ms")
        ],
    )
    query_ms = ours.get("dynamodb_query_ms", float("nan"))
    units = ours.get("units") or {}
    units_text = "DynamoDB units: not measured (the stack's registry was not found)."
    if units:
        sizes, message, connect = units["sizes"], units["message"], units["connect"]
        units_text = "\n\n".join(
            [
                f"DynamoDB capacity units, from the items the stack stored for the sweep's room of"
                f" {sizes['room_items']} connections (sizes by DynamoDB's rules, see `bench/units.py`; moto does"
                " not report consumed capacity): *before* is the registry with a `by_room` index over one"
                " subscription item per connection and room, *now* the room partitions.",
                md_table(
                    ["", "before: write units", "before: read units", "now: write units", "now: read units"],
                    [
                        [
                            f"one message to the room of {sizes['room_items']}",
                            message["before_wcu"],
                            message["before_rcu"],
                            message["now_wcu"],
                            message["now_rcu"],
                        ],
                        [
                            f"one `$connect` of a user in {units['rooms_of_user']} rooms",
                            connect["before_wcu"],
                            "-",
                            connect["now_wcu"],
                            "-",
                        ],
                    ],
                ),
                f"Item sizes: connection item {sizes['connection_item']} B, room item {sizes['room_item']} B; before,"
                f" subscription item {sizes['old_subscription']} B and its index entry {sizes['old_index_item']} B."
                " A message costs the sender's rate-limit UpdateItem (one write unit while the connection item,"
                " which now lists the user's room partitions, stays under 1 KB) and one eventually"
                " consistent Query of the room's partition; the room lookup now reads smaller items and no"
                " index, and a connect writes one item per room instead of an item and an index entry."
                " Locally the difference is larger: moto answers an index Query by scanning the whole table.",
            ]
        )
    errors = ours.get("errors") or {}
    markdown = "\n\n".join(
        [
            f"{clients} clients, one room, one message every {INTERVAL * 1000:.0f} ms for {seconds} s after"
            f" {warmup_seconds:.0f} s of warm-up at the same pace (not counted); a delivery"
            f" is lost if not received {SETTLE_SECONDS:.0f} s after the last send (later ones count in the"
            " latencies).",
            table,
            f"**Our p99 / baseline p99 = {ratio:.1f}x** (the worse of our runs)."
            f" Error frames received by our clients: {errors or 'none'}.",
            "The baseline does in one process, in memory, what the serverless path does with a Lambda invocation"
            " per message (a DynamoDB update for the rate limit, PostgreSQL reads and an insert, a DynamoDB"
            " query for the room) and a Management API POST per recipient; locally all of it shares two cores"
            " with the clients.",
            where_the_time_goes(sweep, query_ms, clients),
            f"At one message every {COST_INTERVAL} s, a pace the local stack keeps up with, in rooms of 2, 10 and"
            f" {clients} connections: the `message` handler's duration as the emulator logged it (used by the"
            " cost model in section 5) and the latency the clients saw:",
            handler_table,
            f"The capacity sweep: messages a second into a room of {SWEEP_ROOM} connections (senders in turn),"
            f" each rate held for {SWEEP_SECONDS:.0f} s ({QUICK_SWEEP_SECONDS:.0f} s with --quick) after"
            f" {SWEEP_WARMUP_SECONDS:.0f} s ({QUICK_SWEEP_WARMUP_SECONDS:.0f} s) at that rate not counted (the"
            " containers it needs warm), rising until"
            f" p99 passes {SWEEP_P99_MS:.0f} ms or a delivery is lost. **Capacity: {capacity:.0f} messages/s**"
            f" ({capacity * SWEEP_ROOM:,.0f} deliveries/s).",
            sweep_table,
            "CPU milliseconds per message by process during each rate of the sweep (user + system time of the"
            " stack's processes, `message`, `join` and the other functions' containers summed by function;"
            " *clients* is this benchmark's own process, all the WebSocket clients); *cores busy* is their"
            f" total over the run (from the first send to the last delivery), out of the machine's"
            f" {os.cpu_count()}:",
            cpu_table,
            units_text,
            *[f"![{p}]({p})" for p in plots],
        ]
    )
    strip = {k: v for k, v in ours.items() if k not in ("latencies_ms", "paced")}
    strip["paced"] = {
        size: {k: v for k, v in run.items() if k != "latencies_ms"} for size, run in ours.get("paced", {}).items()
    }
    targets = [
        Target("end to end: deliveries lost", "0", str(ours["lost"]), ours["lost"] == 0),
        Target("end to end: p99 vs the baseline server's (every run)", "≤ 10x", f"{ratio:.1f}x", ratio <= 10),
        Target(
            f"capacity: messages/s into a room of {SWEEP_ROOM} with p99 ≤ {SWEEP_P99_MS:.0f} ms",
            "≥ 30",
            f"{capacity:.0f}",
            capacity >= 30,
        ),
    ]
    return Section(
        name="e2e",
        title=f"2. End to end: {clients} clients in one room",
        markdown=markdown,
        data={
            "ours": strip,
            "baseline": {k: v for k, v in baseline.items() if k != "latencies_ms"},
            "p99_ratio": ratio,
            "quick": quick,
            "seconds": seconds,
            "clients": clients,
        },
        plots=plots,
        targets=targets,
    )


def where_the_time_goes(sweep: list[dict[str, Any]], query_ms: float, clients: int) -> str:
    """The paragraph that says what bounds the local stack, from the sweep's CPU per message by process."""
    text = (
        f"Where the time goes: one Query of the {clients}-connection room's partition costs the local DynamoDB"
        f" stand-in (moto) {query_ms:.0f} ms (DynamoDB answers it in a few milliseconds)."
    )
    measured = [r for r in sweep if r.get("cpu_ms")]
    if not measured:
        return text
    last = measured[-1]
    cpu = last["cpu_ms"]
    total = sum(cpu.values())
    cores = os.cpu_count() or 1
    shares = ", ".join(f"{kind} {ms / total:.0%}" for kind, ms in cpu.items())
    return (
        f"{text} The stack is bound by CPU: at {last['rate']:.0f} messages a second into the room of"
        f" {SWEEP_ROOM}, the last rate of the sweep, a message cost {total:.0f} ms of CPU in all ({shares};"
        f" the table below), so {cores} cores hold about"
        f" {cores * 1000 / total:.0f} messages a second at most. The `message` function's share is mostly its"
        f" {SWEEP_ROOM} Management API posts (SigV4-signed HTTP requests, about 0.25 ms of CPU each, benchmark"
        " 1); the gateway's is reading, verifying and answering each post and writing its WebSocket frame;"
        " moto's is the rate-limit UpdateItem and the room's Query. The baseline writes each frame from"
        " memory, with no HTTP hop and no database."
    )


def _plot(ours: dict[str, Any], baseline: dict[str, Any], out_dir: Path, clients: int) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.2))
    paced = ours.get("paced", {}).get(str(clients))
    curves = [(f"ours (local stack), 1 message / {INTERVAL * 1000:.0f} ms", ours)]
    curves.append((f"baseline websockets server, 1 / {INTERVAL * 1000:.0f} ms", baseline))
    if paced:
        curves.append((f"ours, 1 message / {COST_INTERVAL * 1000:.0f} ms", paced))
    for label, r in curves:
        values = sorted(r["latencies_ms"])
        if not values:
            continue
        ys = [(i + 1) / len(values) for i in range(len(values))]
        ax.plot(values, ys, label=f"{label} (p99 {r['p99_ms']:.0f} ms)")
    ax.set_xscale("log")
    ax.set_xlabel("send-to-receive latency (ms)")
    ax.set_ylabel("fraction of deliveries")
    ax.set_title(f"{clients} clients in one room")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(out_dir / "e2e.png", dpi=110)
    plt.close(fig)
    plots = ["e2e.png"]
    sweep = ours.get("sweep", [])
    if sweep:
        fig, ax = plt.subplots(figsize=(7, 4.2))
        rates = [r["rate"] for r in sweep]
        ax.plot(rates, [r["p99_ms"] for r in sweep], marker="o", label="p99")
        ax.plot(rates, [r["p50_ms"] for r in sweep], marker="o", label="p50")
        ax.axhline(SWEEP_P99_MS, color="grey", linestyle="--", label=f"{SWEEP_P99_MS:.0f} ms")
        ax.set_yscale("log")
        ax.set_xlabel(f"messages per second into a room of {SWEEP_ROOM}")
        ax.set_ylabel("send-to-receive latency (ms)")
        ax.set_title("Capacity of the local stack")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(loc="upper left")
        fig.tight_layout()
        fig.savefig(out_dir / "capacity.png", dpi=110)
        plt.close(fig)
        plots.append("capacity.png")
    return plots
