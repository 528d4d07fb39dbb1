"""Delivery to whole rooms over moto's DynamoDB, SQS and Management API: the direct path, the queued path of
large rooms, and the fan-out worker with its shared budget and retries."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, cast

import boto3
import pytest
from chatcore.aws.broadcaster import Broadcaster
from chatcore.aws.queue import FanoutQueue
from chatcore.aws.registry import ConnectionRegistry
from chatcore.errors import RegistryUnavailable
from chatcore.protocol.base import encode
from chatcore.protocol.server import PongOut
from chatcore.records import FanoutJob
from chatcore.rows import RoomRow
from chatcore.service.delivery import FANOUT_ATTEMPTS, FanoutWorker, RoomDelivery
from chatcore.service.fanout import Fanout

from tests.conftest import TABLE, ManagementFake, delivered
from tests.helpers.records import opened_a_minute_ago, stored_connection

FRAME = PongOut(ts=7)


class Clock:
    """A clock the worker's sleeps move forward (so waiting for the next second takes no time)."""

    def __init__(self, now: float) -> None:
        self.now = now
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


class Queue:
    """moto's SQS queue of fan-out jobs, remembering the delay each was queued with."""

    def __init__(self) -> None:
        self.client = boto3.client("sqs", region_name="us-east-1")
        self.url = self.client.create_queue(QueueName="fanout")["QueueUrl"]
        self.sqs = FanoutQueue(self.client, self.url)
        self.delays: list[int] = []
        self.jobs = self  # what the services are given

    def enqueue(self, jobs: Sequence[FanoutJob], *, delay_seconds: int = 0) -> None:
        self.delays += [delay_seconds] * len(jobs)
        # Queued without the delay, so the test reads them back at once (SQS would hold them that long).
        self.sqs.enqueue(jobs)

    def taken(self) -> list[tuple[FanoutJob, int]]:
        """Every job queued since the last call, with its delay in seconds (received and deleted)."""
        found: list[FanoutJob] = []
        while True:
            answer = self.client.receive_message(QueueUrl=self.url, MaxNumberOfMessages=10)
            messages = answer.get("Messages", [])
            if not messages:
                break
            found += [FanoutJob.from_json(m["Body"]) for m in messages]
            for m in messages:
                self.client.delete_message(QueueUrl=self.url, ReceiptHandle=m["ReceiptHandle"])
        delays, self.delays = self.delays, []
        return list(zip(found, delays, strict=True))


@pytest.fixture
def queue(aws: None) -> Queue:
    return Queue()


@pytest.fixture
def fanout(registry: ConnectionRegistry, management: ManagementFake) -> Fanout:
    return Fanout(registry, Broadcaster(cast(Any, management), max_workers=4))


def _room(room_id: int, *, members: int, shards: int = 1) -> RoomRow:
    return RoomRow(room_id, "room", False, "group", None, datetime.now(UTC), "", shards, members)


def _connect(registry: ConnectionRegistry, count: int, room: RoomRow) -> list[str]:
    ids = [f"c{room.id}-{n}" for n in range(count)]
    for n, connection_id in enumerate(ids):
        registry.subscribe_rooms(registry.add_connection(connection_id, n + 1, f"u{n}").record, {room.id: room.shards})
    return ids


def _got(connection_id: str) -> int:
    return sum(1 for f in delivered(connection_id) if f == json.loads(encode(FRAME)))


def test_an_ordinary_room_is_posted_directly_even_with_a_queue(
    registry: ConnectionRegistry, fanout: Fanout, queue: Queue
) -> None:
    """A room up to the threshold is posted by the caller itself, the sender's connection too; nothing is queued."""
    room = _room(1, members=1000)
    ids = _connect(registry, 5, room)
    RoomDelivery(registry, fanout, queue.jobs, large_room=1000).to_room(room, FRAME, also=["sender"])
    assert [_got(c) for c in [*ids, "sender"]] == [1] * 6
    assert queue.taken() == []


def test_a_large_room_is_one_job_per_shard_and_the_sender_hears_it_at_once(
    registry: ConnectionRegistry, fanout: Fanout, queue: Queue
) -> None:
    """Past the threshold the caller posts only to the sender and queues one job per shard, carrying the frame."""
    room = _room(2, members=5000, shards=4)
    ids = _connect(registry, 8, room)
    delivery = RoomDelivery(registry, fanout, queue.jobs, large_room=1000)
    assert delivery.is_large(room) and not delivery.is_large(_room(3, members=1000))
    delivery.to_room(room, FRAME, also=["sender"])
    assert _got("sender") == 1 and all(_got(c) == 0 for c in ids)
    jobs = sorted((job for job, _delay in queue.taken()), key=lambda j: j.shard or 0)
    assert [(j.room_id, j.shard, j.frame) for j in jobs] == [(2, s, encode(FRAME).decode()) for s in range(4)]


def test_without_a_queue_every_room_is_direct(registry: ConnectionRegistry, fanout: Fanout) -> None:
    """A deployment without the queue posts even a large room directly (and never calls it large)."""
    room = _room(4, members=50_000, shards=2)
    ids = _connect(registry, 6, room)
    delivery = RoomDelivery(registry, fanout, None, large_room=1000)
    assert not delivery.is_large(room)
    delivery.to_room(room, FRAME)
    assert [_got(c) for c in ids] == [1] * 6


def test_workers_together_post_every_connection_of_the_room_once(
    registry: ConnectionRegistry, fanout: Fanout, queue: Queue
) -> None:
    """Running each shard's job reaches every connection exactly once, and nothing is queued again."""
    room = _room(5, members=5000, shards=4)
    ids = _connect(registry, 40, room)
    RoomDelivery(registry, fanout, queue.jobs, large_room=1000).to_room(room, FRAME)
    worker = FanoutWorker(registry, fanout, queue.jobs, posts_per_second=1000)
    posted = sum(worker.run(job) for job, _ in queue.taken())
    assert posted == 40 and [_got(c) for c in ids] == [1] * 40
    assert queue.taken() == []


def test_a_senders_connection_in_a_large_room_gets_the_frame_once(
    registry: ConnectionRegistry, fanout: Fanout, queue: Queue
) -> None:
    """The sender's connection, posted to at once, is in its shard too: the job skips it (no second copy)."""
    room = _room(9, members=5000, shards=2)
    ids = _connect(registry, 6, room)
    RoomDelivery(registry, fanout, queue.jobs, large_room=1000).to_room(room, FRAME, also=[ids[0]])
    jobs = [job for job, _ in queue.taken()]
    assert {job.skip for job in jobs} == {(ids[0],)}
    assert all(FanoutJob.from_json(job.to_json()) == job for job in jobs)
    worker = FanoutWorker(registry, fanout, queue.jobs, posts_per_second=1000)
    assert sum(worker.run(job) for job in jobs) == 5
    assert [_got(c) for c in ids] == [1] * 6


def test_the_shared_budget_makes_workers_wait_for_the_next_second(
    registry: ConnectionRegistry, fanout: Fanout, queue: Queue
) -> None:
    """With a budget of 10 posts a second, 25 connections take three seconds of the shared counter, and each
    second's posts stay within it."""
    room = _room(6, members=25)
    ids = _connect(registry, 25, room)
    clock = Clock(float(int(time.time())))
    start = clock.now
    timed = ConnectionRegistry(registry._client, TABLE, clock=clock)
    worker = FanoutWorker(timed, fanout, queue.jobs, posts_per_second=10, clock=clock, sleep=clock.sleep)
    assert worker.run(FanoutJob(room.id, encode(FRAME).decode(), shard=0)) == 25
    assert [_got(c) for c in ids] == [1] * 25
    assert len(clock.sleeps) == 2 and clock.now == start + 2
    assert timed.reserve_posts(10, 10) == 5  # this second's budget had 5 left
    clock.now += 1
    assert timed.reserve_posts(10, 10) == 10  # a fresh second has its whole budget


def test_failed_posts_are_queued_again_for_those_connections_then_given_up(
    registry: ConnectionRegistry, fanout: Fanout, queue: Queue, management: ManagementFake
) -> None:
    """A connection whose post fails after the client's retries gets a job of its own, with a growing delay,
    until the attempts run out; the delivered ones are not posted again."""
    room = _room(7, members=3)
    ids = _connect(registry, 3, room)
    throttled = management.exceptions.LimitExceededException(
        {"Error": {"Code": "LimitExceededException", "Message": "slow down"}}, "PostToConnection"
    )
    management.errors[ids[1]] = throttled
    worker = FanoutWorker(registry, fanout, queue.jobs)
    worker.run(FanoutJob(room.id, encode(FRAME).decode(), shard=0))
    ((retry, _delay),) = queue.taken()
    assert (retry.connection_ids, retry.attempt, retry.shard) == ((ids[1],), 1, None)
    job = retry
    for _ in range(FANOUT_ATTEMPTS - 2):
        worker.run(job)
        ((job, _delay),) = queue.taken()
    assert job.attempt == FANOUT_ATTEMPTS - 1
    worker.run(job)
    assert queue.taken() == []  # given up: logged and counted, not queued forever
    del management.errors[ids[1]]
    assert [_got(c) for c in ids] == [1, 0, 1]


def test_a_gone_connection_found_by_a_worker_is_forgotten(
    registry: ConnectionRegistry, fanout: Fanout, queue: Queue, management: ManagementFake
) -> None:
    """A 410 during a shard's job removes the connection from the registry and from the room."""
    room = _room(8, members=2)
    ids = _connect(registry, 2, room)
    management.gone.add(ids[0])
    opened_a_minute_ago(registry, ids[0])
    FanoutWorker(registry, fanout, queue.jobs).run(FanoutJob(room.id, encode(FRAME).decode(), shard=0))
    assert stored_connection(registry, ids[0]) is None
    assert registry.room_connection_ids(room.id) == [ids[1]]


def test_a_deleted_large_rooms_jobs_empty_its_shards(
    registry: ConnectionRegistry, fanout: Fanout, queue: Queue
) -> None:
    """Deleting a large room queues jobs that tell every connection and take the shards' items out."""
    room = _room(9, members=3000, shards=2)
    ids = _connect(registry, 10, room)
    RoomDelivery(registry, fanout, queue.jobs, large_room=1000).to_room(room, FRAME, unsubscribe=True)
    worker = FanoutWorker(registry, fanout, queue.jobs)
    for job, _ in queue.taken():
        worker.run(job)
    assert [_got(c) for c in ids] == [1] * 10
    assert registry.room_connection_ids(room.id, room.shards) == []


def test_a_registry_failure_fails_the_job_so_sqs_delivers_it_again(
    registry: ConnectionRegistry, fanout: Fanout, queue: Queue, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker that cannot read its shard raises: the job is not acknowledged, and nobody is skipped."""

    def broken(room_id: int, shard: int) -> list[str]:
        raise RegistryUnavailable("DynamoDB is down")

    monkeypatch.setattr(registry, "shard_connection_ids", broken)
    with pytest.raises(RegistryUnavailable):
        FanoutWorker(registry, fanout, queue.jobs).run(FanoutJob(1, encode(FRAME).decode(), shard=0))
