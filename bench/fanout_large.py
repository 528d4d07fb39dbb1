"""Benchmark 1b, large rooms: one message to rooms of 1,000, 10,000 and 100,000 connections through the
fan-out queue and 1, 4 and 16 fan-out worker processes sharing one posts-per-second budget.

What runs, all on 127.0.0.1:

* **registry**: moto's server (:class:`chat_local.dynamodb.MotoDynamoDB`, the local stack's), holding the
  rooms' registry items (``room#<id>#<shard>``, shards as migration 0009 sizes them), written in bulk with
  BatchWriteItem; the same server is the SQS queue and holds the budget's counter;
* **Management API**: :mod:`bench.fanout_counter`, answering every post after 15 ms and counting posts
  and distinct connection ids (no sockets behind the ids);
* **workers**: N processes, each :func:`chatcore.composition.build_fanout_worker` (the function's own
  composition: the registry, the signed Management API client on ``BROADCAST_MAX_WORKERS`` threads, the
  queue) long-polling moto's SQS one job at a time (a Lambda invocation of batch size 1) and deleting
  each job when :meth:`FanoutWorker.run` returns, as the event source mapping does.

**How the jobs reach the workers.** Through moto's SQS. Production queues one job per shard and the worker
reads the shard with a DynamoDB Query; moto's Query scans the whole table on every call (about 1-4 s per
page in a table of 100,000 items, where DynamoDB takes tens of milliseconds), which would make this a
benchmark of moto. So the benchmark reads each shard once, before the clock starts, with
:meth:`ConnectionRegistry.shard_connection_ids` (timed and reported), and queues one job per shard
carrying that page's connection ids (the form the worker's own retry jobs have): the workers then do
everything else a production worker does (receive, reserve from the shared budget in moto's DynamoDB, post,
delete the message).

**Delivery time**: from the moment the jobs start being queued (the sender's acknowledgment has gone by
then) to the last post answered, on the system-wide monotonic clock of both processes. **posts/s**: the
room's size over that time. Every run checks that each connection was posted to exactly once.
"""

from __future__ import annotations

import importlib
import math
import multiprocessing
import os
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench.common import REPO_ROOT, Section, Target, fmt, md_table, progress, use_local_aws_env

if TYPE_CHECKING:
    from chatcore.records import FanoutJob

ROOMS = (1_000, 10_000, 100_000)
ROOMS_QUICK = (300, 2_100)
WORKERS = (1, 4, 16)
WORKERS_QUICK = (1, 2)
THREADS = 8
"""``BROADCAST_MAX_WORKERS`` of each worker: 8 threads at 15 ms post at most 533 a second, so 4 workers
stay under the budget and 16 would be far over it."""
BUDGET = 2_000
"""``FANOUT_POSTS_PER_SECOND``, shared by every worker: below what this 2-core machine can post in all (about
2,300-2,900 a second, Management API stand-in included, measured with the machine's usual load of 2-6)."""
THREADS_QUICK = 32
"""The quick run's rooms are small: the production default of 32 threads keeps it short."""
LATENCY_MS = 15.0
TABLE = "bench-connections"
QUEUE = "bench-fanout"
_STAGE_URL_SUFFIX = "/bench"


def room_shards(members: int) -> int:
    """The shard count migration 0009 gives a room of ``members`` (``room_shards_for``)."""
    if members <= 2000:
        return 1
    return min(1024, 1 << math.ceil(math.log2(math.ceil(members / 2000))))


def connection_ids(room_id: int, count: int) -> list[str]:
    """Ids shaped like API Gateway's (16 characters ending in ``=``), distinct across rooms."""
    return [f"R{room_id:02d}C{n:010d}Q=" for n in range(count)]


# ---------------------------------------------------------------- the far side: counter, moto


class Counter:
    """Talks to :mod:`bench.fanout_counter`."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._root = url.removesuffix(_STAGE_URL_SUFFIX)

    def _call(self, method: str, path: str) -> Any:
        import json

        request = urllib.request.Request(  # noqa: S310 - our own local endpoint
            self._root + path, method=method, data=b"" if method == "POST" else None
        )
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - our own local endpoint
            return json.loads(response.read())

    def reset(self) -> None:
        self._call("POST", "/_reset")

    def counts(self) -> dict[str, float]:
        return dict(self._call("GET", "/_counts"))

    def by_id(self) -> dict[str, int]:
        return dict(self._call("GET", "/_ids"))


@dataclass
class Stack:
    moto_url: str
    counter: Counter
    queue_url: str
    dynamodb: Any
    sqs: Any


@contextmanager
def stack(work_dir: Path, latency_ms: float = LATENCY_MS) -> Iterator[Stack]:
    """moto's server with the registry table and the queue, and the counting Management API."""
    import boto3
    from chat_local.dynamodb import MotoDynamoDB
    from chat_local.processes import ReadyProcess
    from chatcore.aws.registry import create_table

    use_local_aws_env()
    _forkserver().ensure_running()  # it imports the layer while moto starts
    counter = ReadyProcess(
        [sys.executable, "-m", "bench.fanout_counter", "--latency-ms", str(latency_ms)],
        log_path=work_dir / "fanout-counter.log",
        cwd=REPO_ROOT,
    )
    moto = MotoDynamoDB()
    with ThreadPoolExecutor(1) as pool:
        counting = pool.submit(counter.start, 30)  # (moto's child is started by this, the main, thread)
        try:
            moto_url = moto.start()
        finally:
            counting.result()
    try:
        dynamodb = boto3.client("dynamodb", endpoint_url=moto_url)
        create_table(dynamodb, TABLE)
        sqs = boto3.client("sqs", endpoint_url=moto_url)
        queue_url = sqs.create_queue(QueueName=QUEUE, Attributes={"VisibilityTimeout": "600"})["QueueUrl"]
        yield Stack(moto_url, Counter(counter.url), queue_url, dynamodb, sqs)
    finally:
        counter.stop()
        moto.stop()


def register(dynamodb: Any, room_id: int, ids: Sequence[str], shards: int) -> float:
    """Write the room's registry items as ``subscribe_rooms`` lays them out (BatchWriteItem, 25 a call, four
    calls at a time); the seconds it took."""
    from chatcore.aws.registry import TTL_ATTRIBUTE, shard_of

    expires = str(int(time.time()) + 3 * 3600)
    items = [
        {
            "PutRequest": {
                "Item": {
                    "pk": {"S": f"room#{room_id}#{shard_of(c, shards)}"},
                    "sk": {"S": c},
                    "user_id": {"N": str(n + 1)},
                    "username": {"S": f"user{n + 1}"},
                    TTL_ATTRIBUTE: {"N": expires},
                }
            }
        }
        for n, c in enumerate(ids)
    ]

    def write(start: int) -> None:
        pending: dict[str, Any] = {TABLE: items[start : start + 25]}
        while pending:
            pending = dynamodb.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}

    began = time.perf_counter()
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(write, range(0, len(items), 25)))
    return time.perf_counter() - began


def shard_jobs(
    dynamodb: Any, room_id: int, ids: Sequence[str], shards: int, frame: str
) -> tuple[list[FanoutJob], float]:
    """One job per shard carrying the shard's connections, placed by the registry's own ``shard_of``; shard 0
    is read back from moto with :meth:`ConnectionRegistry.shard_connection_ids` and must match (the seconds
    that read took are returned: moto's Query scans the whole table, so one page is all that is read)."""
    from chatcore.aws.registry import ConnectionRegistry, shard_of
    from chatcore.records import FanoutJob

    pages: list[list[str]] = [[] for _ in range(shards)]
    for connection_id in ids:
        pages[shard_of(connection_id, shards)].append(connection_id)
    registry = ConnectionRegistry(dynamodb, TABLE)
    began = time.perf_counter()
    read = registry.shard_connection_ids(room_id, 0)
    seconds = time.perf_counter() - began
    if sorted(read) != sorted(pages[0]):
        raise RuntimeError(f"room {room_id}: shard 0 in the registry differs from its computed page")
    return [FanoutJob(room_id, frame, connection_ids=tuple(page)) for page in pages], seconds


def sample_frame() -> str:
    from chatcore.protocol.base import encode
    from chatcore.protocol.server import ChatMessage, MessageOut

    message = ChatMessage(
        id=123456,
        room_id=1,
        sender_id=42,
        sender="alice",
        text="The all-hands starts in five minutes: link in the room description.",
        ts=int(time.time() * 1000),
        client_msg_id="c-0001",
    )
    return encode(MessageOut(room_id=1, message=message)).decode()


# ---------------------------------------------------------------- the workers


def _worker_main(index: int, env: dict[str, str], queue_url: str, shared: dict[str, Any]) -> None:
    """One fan-out worker process: the function's composition, fed by long polls of the queue once at least
    ``index + 1`` workers are active."""
    os.environ.update(env)
    from chatcore.composition import build_fanout_worker, sqs_client
    from chatcore.records import FanoutJob
    from chatcore.settings import Settings

    settings = Settings.from_env()
    worker = build_fanout_worker(settings)
    sqs = sqs_client(settings)
    ready, active, done, stop = shared["ready"], shared["active"], shared["done"], shared["stop"]
    with ready.get_lock():
        ready.value += 1
    while not stop.is_set():
        if active.value <= index:
            stop.wait(0.02)
            continue
        answer = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=1, WaitTimeSeconds=1)
        for message in answer.get("Messages", []):
            worker.run(FanoutJob.from_json(message["Body"]))
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
            with done.get_lock():
                done.value += 1


def _forkserver() -> Any:
    """Worker processes are forked from a server that imported boto3 and the layer once."""
    from multiprocessing import forkserver

    multiprocessing.set_forkserver_preload(["boto3", "botocore", "chatcore.composition", "chatcore.service.delivery"])
    return forkserver


class Workers:
    """``count`` worker processes, forked from a server that imported the layer once; :meth:`activate` sets
    how many of them take jobs (only ever more: a worker taken out mid long-poll could still take a job)."""

    def __init__(self, the_stack: Stack, count: int, *, threads: int, budget: int) -> None:
        _forkserver()
        context = multiprocessing.get_context("forkserver")
        env = {
            "CONNECTIONS_TABLE": TABLE,
            "MANAGEMENT_API_URL": the_stack.counter.url,
            "FANOUT_QUEUE_URL": the_stack.queue_url,
            "FANOUT_POSTS_PER_SECOND": str(budget),
            "BROADCAST_MAX_WORKERS": str(threads),
            "AWS_ENDPOINT_URL_DYNAMODB": the_stack.moto_url,
            "AWS_ENDPOINT_URL_SQS": the_stack.moto_url,
            "POWERTOOLS_METRICS_NAMESPACE": "bench",
            "POWERTOOLS_LOG_LEVEL": "ERROR",
            "POWERTOOLS_TRACE_DISABLED": "true",
            **{k: os.environ[k] for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION")},
        }
        self.count = count
        self.ready = context.Value("i", 0)
        self.active = context.Value("i", 0)
        self.done = context.Value("i", 0)
        self.stop = context.Event()
        shared = {"ready": self.ready, "active": self.active, "done": self.done, "stop": self.stop}
        self._processes = [
            context.Process(target=_worker_main, args=(i, env, the_stack.queue_url, shared), daemon=True)
            for i in range(count)
        ]

    def activate(self, count: int) -> None:
        if count < self.active.value:
            raise ValueError("workers are only ever added")
        self.active.value = count

    def __enter__(self) -> Workers:
        for process in self._processes:
            process.start()
        deadline = time.monotonic() + 120
        while self.ready.value < self.count:
            if time.monotonic() > deadline or any(p.exitcode is not None for p in self._processes):
                raise RuntimeError("fan-out workers did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *_exc: object) -> None:
        # Each ends after its current long poll. Not killed: moto would finish a dead worker's poll for it.
        self.stop.set()
        for process in self._processes:
            process.join(10)
            if process.is_alive():
                process.kill()
                process.join()


def _queue_empty(the_stack: Stack) -> bool:
    names = [
        "ApproximateNumberOfMessages",
        "ApproximateNumberOfMessagesNotVisible",
        "ApproximateNumberOfMessagesDelayed",
    ]
    attributes = the_stack.sqs.get_queue_attributes(QueueUrl=the_stack.queue_url, AttributeNames=names)["Attributes"]
    return all(int(attributes.get(name, "0")) == 0 for name in names)


def deliver(the_stack: Stack, workers: Workers, jobs: list[FanoutJob], timeout: float = 900) -> dict[str, float]:
    """Queue the jobs, wait until the workers have run them all, and time it against the counter."""
    from chatcore.aws.queue import FanoutQueue

    the_stack.counter.reset()
    start_done = workers.done.value
    began = time.monotonic()
    FanoutQueue(the_stack.sqs, the_stack.queue_url).enqueue(jobs)
    queued = time.monotonic()
    deadline = began + timeout
    while workers.done.value - start_done < len(jobs) or not _queue_empty(the_stack):
        if time.monotonic() > deadline:
            raise RuntimeError(f"delivery not finished after {timeout} s")
        time.sleep(0.01)
    counts = the_stack.counter.counts()
    return {
        "queue_ms": (queued - began) * 1000,
        "first_post_ms": (counts["first"] - began) * 1000 if counts["posts"] else float("nan"),
        "delivery_ms": (counts["last"] - began) * 1000 if counts["posts"] else float("nan"),
        "posts": counts["posts"],
        "distinct": counts["distinct"],
        "most": counts["most"],
    }


# ---------------------------------------------------------------- the measurement


def measure(
    rooms: Sequence[int],
    worker_counts: Sequence[int],
    *,
    work_dir: Path,
    threads: int = THREADS,
    budget: int = BUDGET,
    latency_ms: float = LATENCY_MS,
    check_ids: bool = False,
) -> dict[str, Any]:
    """Every (room, workers) cell: delivery time and posts/s, each checked to post every connection once."""
    work_dir.mkdir(parents=True, exist_ok=True)
    frame = sample_frame()
    rows: list[dict[str, Any]] = []
    setup: list[dict[str, Any]] = []
    with stack(work_dir, latency_ms) as the_stack:
        pages: dict[int, list[FanoutJob]] = {}
        for room_id, members in enumerate(rooms, start=1):
            shards = room_shards(members)
            ids = connection_ids(room_id, members)
            written = register(the_stack.dynamodb, room_id, ids, shards)
            jobs, read = shard_jobs(the_stack.dynamodb, room_id, ids, shards, frame)
            pages[members] = jobs
            assert sorted(c for job in jobs for c in job.connection_ids) == ids
            setup.append({"members": members, "shards": shards, "register_s": written, "read_s": read})
            progress(
                f"fanout_large: room of {members:,} in {shards} shard(s): written {written:.1f} s, read {read:.1f} s"
            )
        from chatcore.records import FanoutJob

        with Workers(the_stack, max(worker_counts), threads=threads, budget=budget) as workers:
            for count in sorted(worker_counts):
                previous = workers.active.value
                workers.activate(count)
                # Warm-up: each newly active worker opens its connections (a warm Lambda container has them).
                warm = connection_ids(99, count - previous)
                deliver(the_stack, workers, [FanoutJob(99, frame, connection_ids=(c,)) for c in warm])
                for members in rooms:
                    jobs = pages[members]
                    cell = deliver(the_stack, workers, jobs)
                    if check_ids:
                        by_id = the_stack.counter.by_id()
                        expected = sorted(c for job in jobs for c in job.connection_ids)
                        cell["every_once"] = sorted(by_id) == expected and set(by_id.values()) == {1}
                    ok = cell["posts"] == members and cell["distinct"] == members and cell["most"] == 1
                    if not ok:
                        raise RuntimeError(f"room of {members} with {count} workers: {cell}")
                    rate = members / (cell["delivery_ms"] / 1000)
                    rows.append(
                        {"members": members, "shards": len(jobs), "workers": count, **cell, "posts_per_s": rate}
                    )
                    progress(
                        f"fanout_large: {members:,} connections, {count} worker(s): "
                        f"{cell['delivery_ms'] / 1000:.2f} s, {rate:,.0f} posts/s"
                    )
    return {
        "rows": rows,
        "setup": setup,
        "threads": threads,
        "budget": budget,
        "latency_ms": latency_ms,
        "per_worker_ceiling": threads / (latency_ms / 1000),
    }


def _cell(rows: list[dict[str, Any]], members: int, workers: int) -> dict[str, Any] | None:
    return next((r for r in rows if r["members"] == members and r["workers"] == workers), None)


def _plot(data: dict[str, Any], out_dir: Path) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = data["rows"]
    counts = sorted({r["workers"] for r in rows})
    fig, ax = plt.subplots(figsize=(6.5, 4.4))
    for members in sorted({r["members"] for r in rows}):
        cells = [r for r in rows if r["members"] == members]
        ax.plot(
            [c["workers"] for c in cells],
            [c["posts_per_s"] for c in cells],
            marker="o",
            label=f"{members:,} connections ({cells[0]['shards']} shard{'s' if cells[0]['shards'] > 1 else ''})",
        )
    ideal = [min(w * data["per_worker_ceiling"], data["budget"]) for w in counts]
    ax.plot(
        counts, ideal, linestyle=":", color="grey", label=f"min(workers x {data['per_worker_ceiling']:.0f}/s, budget)"
    )
    ax.axhline(data["budget"], linestyle="--", color="red", label=f"budget {data['budget']:,}/s")
    ax.set_xscale("log", base=2)
    ax.set_xticks(counts, [str(c) for c in counts])
    ax.set_xlabel("fan-out worker processes")
    ax.set_ylabel("posts per second (15 ms per post)")
    ax.set_title(f"One message to a large room ({data['threads']} threads per worker)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    name = "fanout-large.png"
    fig.savefig(out_dir / name, dpi=110)
    plt.close(fig)
    return name


def _limits(data: dict[str, Any]) -> str:
    """What bounds the cells, from this run's numbers."""
    rows = data["rows"]
    budget, ceiling = data["budget"], data["per_worker_ceiling"]
    single = [r["posts_per_s"] for r in rows if r["workers"] == 1 and r["shards"] > 1]
    lines = ["**What limits them.**"]
    if single:
        lines.append(
            f"*One worker:* {min(single):,.0f}-{max(single):,.0f} posts/s, {100 * min(single) / ceiling:.0f}-"
            f"{100 * max(single) / ceiling:.0f} % of its {ceiling:,.0f}/s ceiling: it runs one job at a time and"
            " reserves 250 posts at a time from the budget (a DynamoDB UpdateItem), then posts them on its threads"
            " and waits for the slowest before the next 250; receiving and deleting each job is two more SQS calls."
        )
    one_shard = [r for r in rows if r["shards"] == 1 and r["workers"] > 1]
    if one_shard:
        lines.append(
            "*Shards:* a job is one registry shard (2,000 members each), so a room of up to 2,000 members is one"
            f" job and one worker whatever the count ({one_shard[-1]['members']:,} connections with"
            f" {one_shard[-1]['workers']} workers: {one_shard[-1]['posts_per_s']:,.0f}/s), and a room of"
            " 10,000 (8 shards) keeps at most 8 workers busy."
        )
    over = [r for r in rows if r["posts_per_s"] > budget]
    at_budget = [r for r in rows if r["workers"] * ceiling > budget and r["shards"] >= r["workers"]]
    if at_budget:
        rates = ", ".join(f"{r['posts_per_s']:,.0f}/s" for r in at_budget)
        lines.append(
            f"*The budget:* with more worker capacity than the budget of {budget:,}/s, the shared counter holds"
            f" them to it ({rates} over the longest"
            " deliveries)."
            + (
                f" It counts per calendar second, so a delivery of a few seconds can measure above it"
                f" ({over[0]['members']:,} connections: {over[0]['posts_per_s']:,.0f}/s over"
                f" {over[0]['delivery_ms'] / 1000:.1f} s, the posts of up to"
                f" {math.ceil(over[0]['delivery_ms'] / 1000) + 1} budget seconds): in any sliding second up to twice"
                " the budget can go out, which is why the budget is set at half the account's throttle."
                if over
                else ""
            )
        )
    lines.append(
        "*This machine:* 2 shared cores (see the load average above); 16 worker processes and the stand-in fit"
        " on them at 2,000 posts/s, so the machine was not the bound of the 16-worker cells."
    )
    return "\n\n".join(lines)


def _section(data: dict[str, Any], plot: str, quick: bool) -> Section:
    rows = data["rows"]
    budget, ceiling = data["budget"], data["per_worker_ceiling"]
    table = md_table(
        ["connections", "shards (jobs)", "workers", "delivery s", "first post ms", "posts/s", "of the ideal"],
        [
            [
                r["members"],
                r["shards"],
                r["workers"],
                fmt(r["delivery_ms"] / 1000, 2),
                fmt(r["first_post_ms"], 0),
                fmt(r["posts_per_s"], 0),
                fmt(100 * r["posts_per_s"] / min(min(r["workers"], r["shards"]) * ceiling, budget), 0) + " %",
            ]
            for r in rows
        ],
    )
    setup = md_table(
        ["connections", "shards", "BatchWriteItem s", "one shard read s (moto)"],
        [[s["members"], s["shards"], fmt(s["register_s"]), fmt(s["read_s"])] for s in data["setup"]],
    )
    targets: list[Target] = []
    top = max(r["members"] for r in rows)
    one, four, most = (
        _cell(rows, top, 1),
        _cell(rows, top, 4),
        max((r for r in rows if r["members"] == top), key=lambda r: r["workers"]),
    )
    if one and four:
        ideal = min(4 * ceiling, budget) / min(ceiling, budget)
        gain = four["posts_per_s"] / one["posts_per_s"]
        targets.append(
            Target(
                f"large room {top:,}: posts/s with 4 workers over 1",
                f">= 0.8 x {ideal:.1f}x (linear until the budget)",
                f"{gain:.2f}x",
                gain >= 0.8 * ideal,
            )
        )
    if most["workers"] * ceiling > budget and most["shards"] >= most["workers"]:
        share = most["posts_per_s"] / budget
        targets.append(
            Target(
                f"large room {top:,}, {most['workers']} workers: posts/s against the budget of {budget:,}",
                "0.8x to 1.05x",
                f"{share:.2f}x",
                0.8 <= share <= 1.05,
            )
        )
    markdown = "\n\n".join(
        [
            f"One `message` frame ({len(sample_frame())} bytes) to every connection of a room, through the fan-out"
            f" queue (moto's SQS) and N worker processes, each `build_fanout_worker` on {data['threads']} threads"
            f" (`BROADCAST_MAX_WORKERS`), posting to a counting Management API stand-in that answers after"
            f" {data['latency_ms']:.0f} ms (`bench/fanout_counter.py`: no sockets behind the ids). Budget"
            f" (`FANOUT_POSTS_PER_SECOND`, shared through the registry's counter): {budget:,} posts/s. One worker"
            f" can post at most {ceiling:,.0f}/s ({data['threads']} threads / {data['latency_ms']:.0f} ms), so the"
            " ideal is min(min(workers, shards) x that, budget). Jobs: one per shard, carrying the shard's page as"
            " the registry hands it out (read before the clock starts: moto's Query scans the whole table; see"
            " bench/README.md). Delivery time runs from the first job queued to the last post answered; every"
            " cell checked that each connection was posted to exactly once.",
            table,
            _limits(data),
            *[f"![{plot}]({plot})"],
            "Setting the rooms up (not timed in the cells above):",
            setup,
        ]
    )
    return Section(
        name="fanout_large",
        title="1b. Large rooms: the fan-out queue and its workers",
        markdown=markdown,
        data={**data, "quick": quick},
        plots=[plot],
        targets=targets,
    )


def run(
    quick: bool,
    out_dir: Path,
    work_dir: Path,
    rooms: Sequence[int] | None = None,
    workers: Sequence[int] | None = None,
) -> Section:
    rooms = rooms or (ROOMS_QUICK if quick else ROOMS)
    workers = workers or (WORKERS_QUICK if quick else WORKERS)
    # matplotlib takes a second or two to import: done meanwhile, while this process mostly waits.
    plotting = threading.Thread(target=importlib.import_module, args=("matplotlib.pyplot",), daemon=True)
    plotting.start()
    data = measure(rooms, workers, work_dir=work_dir, threads=THREADS_QUICK if quick else THREADS)
    plotting.join()
    return report(data, out_dir, quick)


def report(data: dict[str, Any], out_dir: Path, quick: bool) -> Section:
    """The section of RESULTS.md, with its plot written to ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    return _section(data, _plot(data, out_dir), quick)
