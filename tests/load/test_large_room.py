"""A room of 1,000 real WebSocket connections, delivered through the fan-out queue (issue 18).

The stack of this module makes every room above 100 members large (``fanoutLargeRoom``), so the room's one
job (a registry shard of 1,000 connections) goes through SQS to ``functions/fanout``. The workers share a
budget of 200 posts a second (``fanoutPostsPerSecond``), so the job takes about five seconds: long enough to
kill its worker in the middle. The worker's timeout and the queue's visibility timeout are 15 s
(``fanoutWorkerTimeoutSeconds``, ``fanoutVisibilityTimeoutSeconds``: six minutes in the template), so a
killed worker's job is received again within seconds.

The members are created in PostgreSQL directly (one password hash for all, nobody logs in) with tokens
signed by the stack's key: 1,000 registrations would each hash a password.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import resource
import signal
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import psycopg
import pytest
from chat_local.postgres import EmbeddedPostgres
from chatcore.passwords import hash_password
from chatcore.tokens import Identity, TokenService
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidStatus

from tests.helpers.clients import Account, Api, local_connections
from tests.helpers.stack import StackProcess, wait_until

MEMBERS = 1000
MARKER = "test-marker"
LARGE_ROOM = 100
POSTS_PER_SECOND = 200
RETRY_SECONDS = 15
"""The worker's timeout and the queue's visibility timeout: a killed worker's job comes back after it."""
PASSWORD = "correct horse battery"


@pytest.fixture(scope="module")
def room_database(pg_server: EmbeddedPostgres) -> str:
    return pg_server.create_database("large_room_stack", template="chat_template")


@pytest.fixture(scope="module")
def large_room_stack(tmp_root: Path, room_database: str) -> Iterator[StackProcess]:
    """The chat with rooms above 100 members large, a 200 posts/s fan-out budget and jobs retried after 15 s."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    needed = 2 * MEMBERS + 1000  # each socket is a descriptor here and one in the stack (which inherits it)
    if soft < needed:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(needed, hard), hard))
    context = {
        "fanoutLargeRoom": LARGE_ROOM,
        "fanoutPostsPerSecond": POSTS_PER_SECOND,
        "fanoutWorkerTimeoutSeconds": RETRY_SECONDS,
        "fanoutVisibilityTimeoutSeconds": RETRY_SECONDS,
    }
    flags = [arg for key, value in context.items() for arg in ("--context", f"{key}={value}")]
    process = StackProcess(
        tmp_root / "large-room-data",
        *flags,
        "--prune-interval",
        "3600",
        env={"DATABASE_URL": room_database},
        log_path=tmp_root / "large-room-stack.log",
    ).start(timeout=180.0)
    yield process
    process.stop()


def add_members(database_url: str, room_id: int, count: int, token_secret: str) -> list[Account]:
    """``count`` new users, members of ``room_id``, each with a token signed by the stack's key."""
    password_hash = hash_password(PASSWORD)
    names = [f"crowd_{uuid.uuid4().hex[:12]}" for _ in range(count)]
    with psycopg.connect(database_url) as conn:
        users = conn.execute(
            "INSERT INTO users (username, password_hash) SELECT unnest(%s::text[]), %s RETURNING id, username",
            (names, password_hash),
        ).fetchall()
        # The membership trigger keeps rooms.member_count (and the shard count) as the app's inserts do.
        conn.execute(
            "INSERT INTO room_members (user_id, room_id) SELECT unnest(%s::bigint[]), %s",
            ([user_id for user_id, _ in users], room_id),
        )
    tokens = TokenService(token_secret)
    return [Account(name, PASSWORD, tokens.issue(Identity(user_id, name)), user_id) for user_id, name in users]


class Crowd:
    """WebSocket connections held open on an event loop of their own (a thread); each counts the ``message``
    frames it receives by message id, and keeps the last marker the test posted to it."""

    def __init__(self, stack: StackProcess, accounts: list[Account]) -> None:
        self.stack = stack
        self.accounts = accounts
        self.copies: list[Counter[int]] = [Counter() for _ in accounts]
        self.markers = [0] * len(accounts)
        self.connection_ids: list[str] = []
        self.others: list[dict[str, Any]] = []
        """Frames of any other type (none is expected in a large room: no presence, no member frames)."""
        self.refused = 0
        """Upgrades refused with 429 and tried again."""
        self._sockets: list[ClientConnection | None] = [None] * len(accounts)
        self._readers: list[asyncio.Task[None]] = []
        self._changed = threading.Condition()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="crowd", daemon=True)
        self._thread.start()

    def _run(self, coroutine: Any, timeout: float) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout)

    def open(self, timeout: float = 120.0) -> None:
        """Open every connection, 16 upgrades at a time, trying again with backoff when throttled (429); then
        find each one's connection id by its User-Agent."""
        self._run(self._open_all(), timeout)
        ids = {c["identity"]["userAgent"]: c["connectionId"] for c in local_connections(self.stack.url)}
        self.connection_ids = [ids[self._user_agent(index)] for index in range(len(self.accounts))]

    def _user_agent(self, index: int) -> str:
        return f"chat-tests/large-room/{index}"

    async def _open_all(self) -> None:
        gate = asyncio.Semaphore(16)
        await asyncio.gather(*(self._open(index, gate) for index in range(len(self.accounts))))

    async def _open(self, index: int, gate: asyncio.Semaphore) -> None:
        backoff = 0.05
        url = f"{self.stack.ws_url}?token={self.accounts[index].token}"
        while True:
            async with gate:
                try:
                    socket = await connect(
                        url, open_timeout=30, ping_interval=None, user_agent_header=self._user_agent(index)
                    )
                    break
                except InvalidStatus as error:
                    if error.response.status_code != 429:
                        raise
                    self.refused += 1
            await asyncio.sleep(backoff * (0.5 + random.random()))
            backoff = min(backoff * 2, 2.0)
        self._sockets[index] = socket
        self._readers.append(asyncio.create_task(self._read(index, socket)))

    async def _read(self, index: int, socket: ClientConnection) -> None:
        async for raw in socket:
            frame = json.loads(raw)
            with self._changed:
                if frame.get("type") == "message":
                    self.copies[index][frame["message"]["id"]] += 1
                elif frame.get("type") == MARKER:
                    self.markers[index] = frame["n"]
                else:
                    self.others.append(frame)
                self._changed.notify_all()

    def send(self, index: int, frame: dict[str, Any]) -> None:
        socket = self._sockets[index]
        assert socket is not None
        self._run(socket.send(json.dumps(frame)), 10.0)

    def wait(self, condition: Callable[[], bool], timeout: float, what: str) -> None:
        """Return once ``condition()`` holds (checked whenever a frame arrives); fail after ``timeout``."""
        with self._changed:
            assert self._changed.wait_for(condition, timeout), f"not within {timeout} s: {what}"

    def holding(self, message_id: int) -> int:
        """How many connections have received ``message_id`` at least once."""
        with self._changed:
            return sum(1 for copies in self.copies if copies[message_id])

    def snapshot(self) -> list[Counter[int]]:
        with self._changed:
            return [Counter(copies) for copies in self.copies]

    def settle(self, timeout: float = 60.0) -> None:
        """Post a marker to every connection through the Management API, as the workers post, and wait until
        each has it: whatever was posted to a socket before (every copy of a job SQS has deleted, whose posts
        had all been answered) was written to it first, so nothing more is on its way."""
        number = max(self.markers) + 1
        data = json.dumps({"type": MARKER, "n": number}).encode()
        management = self.stack.management(max_pool_connections=8)
        with ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(lambda cid: management.post_to_connection(ConnectionId=cid, Data=data), self.connection_ids))
        self.wait(lambda: min(self.markers) == number, timeout, "every connection's marker")

    def close(self) -> None:
        async def close_all() -> None:
            await asyncio.gather(*(s.close() for s in self._sockets if s is not None), return_exceptions=True)
            await asyncio.gather(*self._readers, return_exceptions=True)

        self._run(close_all(), 60.0)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()


@pytest.fixture(scope="module")
def crowd(large_room_stack: StackProcess, room_database: str) -> Iterator[tuple[Crowd, int]]:
    """1,000 open connections of the 1,000 members of one room (its owner, connection 0, registered by REST)."""
    api = Api(large_room_stack.api_url)
    owner = api.register("owner")
    room_id = api.create_group(owner, "all-hands")
    secret = (large_room_stack.data_dir / "token-secret").read_text()
    members = [owner, *add_members(room_database, room_id, MEMBERS - 1, secret)]
    status, room = api.call("GET", f"/groups/{room_id}", token=owner.token)
    assert status == 200, room
    started = time.monotonic()
    people = Crowd(large_room_stack, members)
    people.open()
    print(f"{MEMBERS} connections open in {time.monotonic() - started:.1f}s ({people.refused} upgrades throttled)")
    yield people, room_id
    people.close()


def _queued(stack: StackProcess) -> int:
    """Messages in the fan-out queue, visible, in flight or delayed (0: every job was deleted)."""
    sqs = stack.aws_client("sqs")
    (url,) = [u for u in sqs.list_queues()["QueueUrls"] if "FanoutJobsQueue" in u]
    names = [
        "ApproximateNumberOfMessages",
        "ApproximateNumberOfMessagesNotVisible",
        "ApproximateNumberOfMessagesDelayed",
    ]
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names)["Attributes"]
    return sum(int(attributes[name]) for name in names)


def _send(crowd: Crowd, room_id: int, text: str) -> int:
    """Connection 0 (the owner) sends ``text``; the message id of its own copy, its acknowledgment."""
    earlier = set(crowd.copies[0])
    crowd.send(0, {"type": "message", "roomId": room_id, "text": text, "clientMsgId": uuid.uuid4().hex})
    crowd.wait(lambda: len(crowd.copies[0]) > len(earlier), 30.0, "the sender's acknowledgment")
    (message_id,) = set(crowd.copies[0]) - earlier
    return message_id


def _stored(database_url: str, room_id: int, text: str) -> list[int]:
    """The ids of the room's stored messages of ``text``."""
    with psycopg.connect(database_url) as conn:
        rows = conn.execute("SELECT id FROM messages WHERE room_id = %s AND content = %s", (room_id, text)).fetchall()
    return [row[0] for row in rows]


def _fanout_pool(stack: StackProcess) -> dict[str, Any]:
    status, body = Api(stack.url).call("GET", "/_local/functions")
    assert status == 200, body
    return dict(body["fanout"])


def _busy_fanout_container(stack: StackProcess) -> int:
    """The process id of the fan-out worker's container now running a job: a child of the stack, running
    ``chat_local.worker`` with the fanout function's code."""
    (pid,) = [c["pid"] for c in _fanout_pool(stack)["containers"] if c["busy"]]
    command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    assert b"chat_local.worker" in command and any(part.endswith(b"functions/fanout") for part in command), command
    status = dict(
        line.split(":\t", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":\t" in line
    )
    assert stack.process is not None and int(status["PPid"]) == stack.process.pid
    return int(pid)


def _new(after: list[Counter[int]], before: list[Counter[int]]) -> list[Counter[int]]:
    """What each connection received between two snapshots."""
    return [now - then for now, then in zip(after, before, strict=True)]


@pytest.mark.timeout(240)
def test_one_message_to_1000_sockets_reaches_each_exactly_once(
    large_room_stack: StackProcess, crowd: tuple[Crowd, int], room_database: str
) -> None:
    """One message to a room of 1,000 open sockets goes through the fan-out queue and reaches each exactly once."""
    people, room_id = crowd
    before, invoked = people.snapshot(), _fanout_pool(large_room_stack)["invocations"]
    started = time.monotonic()
    message_id = _send(people, room_id, "to all 1,000")
    people.wait(lambda: people.holding(message_id) == MEMBERS, 60.0, "every connection has the message")
    print(f"{MEMBERS} connections reached in {time.monotonic() - started:.1f}s")
    # The job is deleted once its worker returned, every post answered: a marker posted then comes after
    # every copy on each socket.
    assert wait_until(lambda: _queued(large_room_stack) == 0, timeout=30.0, interval=0.1)
    people.settle()

    received = _new(people.snapshot(), before)
    assert [copies[message_id] for copies in received] == [1] * MEMBERS  # the sender's one copy is its ack
    assert all(set(copies) == {message_id} for copies in received)
    assert _fanout_pool(large_room_stack)["invocations"] == invoked + 1  # through the queue, one job, no retry
    assert _stored(room_database, room_id, "to all 1,000") == [message_id]
    assert people.others == []


@pytest.mark.timeout(240)
def test_a_worker_killed_mid_job_is_retried_and_each_socket_shows_the_message_once(
    large_room_stack: StackProcess, crowd: tuple[Crowd, int], room_database: str
) -> None:
    """A worker killed mid-job is retried by SQS: each socket gets the message at least once and shows it once."""
    people, room_id = crowd
    before = people.snapshot()
    message_id = _send(people, room_id, "survives a dead worker")
    people.wait(lambda: people.holding(message_id) >= 50, 30.0, "the worker has begun posting")
    pid = _busy_fanout_container(large_room_stack)
    os.kill(pid, signal.SIGKILL)
    assert wait_until(lambda: pid not in [c["pid"] for c in _fanout_pool(large_room_stack)["containers"]], 10.0)
    reached_before_kill = people.holding(message_id)
    assert reached_before_kill < MEMBERS, "the worker finished before it was killed"

    people.wait(lambda: people.holding(message_id) == MEMBERS, RETRY_SECONDS + 60.0, "every connection has the message")
    assert wait_until(lambda: _queued(large_room_stack) == 0, timeout=30.0, interval=0.1)
    people.settle()

    received = _new(people.snapshot(), before)
    counts = [copies[message_id] for copies in received]
    assert min(counts) >= 1  # at least once, never zero times
    assert all(set(copies) == {message_id} for copies in received)  # every copy is the one message: shown once
    assert counts[0] == 1  # the sender's acknowledgment; the job skips the sender's connection
    # The job ran again from its start: whoever had the message before the kill got it a second time.
    assert sum(1 for n in counts[1:] if n >= 2) >= reached_before_kill - 1
    assert _stored(room_database, room_id, "survives a dead worker") == [message_id]
    log = large_room_stack.log_path.read_text(errors="replace")
    assert "crashed fanout" in log and "(receive 2)" in log
    assert people.others == []
