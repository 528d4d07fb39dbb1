"""Delivery to a whole room: directly for ordinary rooms, through the fan-out queue for large ones.

A ``message`` to a room of 50 is posted by the function that stored it: one Query of the room's partition
and the posts, the lowest latency there is. A room of 100,000 cannot be posted to in one invocation (about
1,400 posts a second per function at 15 ms of Management API latency: 70 s, past API Gateway's 29 s), so a
room above :data:`chatcore.rules.LARGE_ROOM` members is queued instead, one job per registry shard
(about 2,000 connections), and fan-out workers (``functions/fanout``, triggered by SQS) post the shards
in parallel, within a posts-per-second budget they share.

Guarantees of the queued path: every connection of the room when its shard is read is posted to at least
once. A worker that dies mid-job is retried by SQS with the whole job, so some connections may get the
frame twice (clients deduplicate by message id); a post that still fails after the client's retries
(429s past the budget, 5xx) is queued again for just those connections, with backoff, up to
:data:`FANOUT_ATTEMPTS` times, and only then given up (logged, and counted as ``FanoutRecipientsDropped``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from aws_lambda_powertools.metrics import MetricUnit

from chatcore.errors import QueueUnavailable
from chatcore.observability import logger, metrics
from chatcore.protocol.base import encode
from chatcore.records import FanoutJob
from chatcore.rules import DEFAULT_POSTS_PER_SECOND, LARGE_ROOM

if TYPE_CHECKING:  # annotations only (see chatcore.service.fanout)
    from chatcore.ports import Connections, FanoutJobs
    from chatcore.protocol.server import ServerFrame
    from chatcore.rows import RoomRow
    from chatcore.service.fanout import Fanout

FANOUT_ATTEMPTS = 5
"""Deliveries of one job's failed connections, the first included, before they are given up."""
_CHUNK = 250
"""Posts reserved from the budget at a time."""


class RoomDelivery:
    """Posts a frame to every connection of a room, choosing the path by the room's size."""

    def __init__(
        self, registry: Connections, fanout: Fanout, jobs: FanoutJobs | None = None, *, large_room: int = LARGE_ROOM
    ) -> None:
        self._registry = registry
        self._fanout = fanout
        self._jobs = jobs
        self._large_room = large_room

    def is_large(self, room: RoomRow) -> bool:
        """Whether the room goes through the queue (and gets no typing, read receipts or member frames)."""
        return self._jobs is not None and room.member_count > self._large_room

    def to_room(
        self, room: RoomRow, frame: ServerFrame, *, also: Sequence[str] = (), unsubscribe: bool = False
    ) -> None:
        """Post ``frame`` to every connection of the room, and to ``also`` (the sender's own, which may not
        be subscribed); ``unsubscribe`` takes the connections out of the room as well (it was deleted).

        :class:`QueueUnavailable` if a large room's jobs could not be queued (``also`` is posted first).
        """
        if self._jobs is not None and self.is_large(room):
            if also:
                self._fanout.broadcast(also, frame)
            data = encode(frame).decode()
            skip = tuple(dict.fromkeys(also))  # posted to just now: each connection gets the frame once
            self._jobs.enqueue(
                [
                    FanoutJob(room.id, data, shard=shard, unsubscribe=unsubscribe, skip=skip)
                    for shard in range(room.shards)
                ]
            )
            return
        if unsubscribe:
            recipients = self._registry.unsubscribe_room(room.id, room.shards)
        else:
            recipients = self._registry.room_connection_ids(room.id, room.shards)
        self._fanout.broadcast([*recipients, *also], frame)


class FanoutWorker:
    """Runs one fan-out job: reads its shard (or takes its connection list), posts within the shared budget,
    forgets the gone connections, and queues the failed ones again."""

    def __init__(
        self,
        registry: Connections,
        fanout: Fanout,
        jobs: FanoutJobs,
        *,
        posts_per_second: int = DEFAULT_POSTS_PER_SECOND,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._registry = registry
        self._fanout = fanout
        self._jobs = jobs
        self._per_second = posts_per_second
        self._clock = clock
        self._sleep = sleep

    def run(self, job: FanoutJob) -> int:
        """Deliver the job; how many connections it posted to successfully. An exception fails the job, which
        SQS then delivers again (so nothing is lost when a worker dies)."""
        if job.connection_ids:
            recipients = list(job.connection_ids)
        elif job.shard is not None and job.unsubscribe:
            recipients = self._registry.unsubscribe_shard(job.room_id, job.shard)
        elif job.shard is not None:
            recipients = self._registry.shard_connection_ids(job.room_id, job.shard)
        else:
            recipients = []
        if job.skip and not job.connection_ids:
            skipped = set(job.skip)
            recipients = [c for c in recipients if c not in skipped]
        data = job.frame.encode()
        delivered = 0
        failed: list[str] = []
        pending = recipients
        while pending:
            granted = self._registry.reserve_posts(min(len(pending), _CHUNK), self._per_second)
            if granted == 0:
                now = self._clock()
                self._sleep(int(now) + 1 - now)  # this second's budget is spent: the next one's
                continue
            page, pending = pending[:granted], pending[granted:]
            result = self._fanout.broadcast_encoded(page, data)
            delivered += len(result.delivered)
            failed += result.failed
        if failed:
            self._retry(job, failed)
        return delivered

    def _retry(self, job: FanoutJob, failed: list[str]) -> None:
        attempt = job.attempt + 1
        if attempt >= FANOUT_ATTEMPTS:
            logger.error("fan-out gave up on connections", extra={"room_id": job.room_id, "connections": len(failed)})
            metrics.add_metric(name="FanoutRecipientsDropped", unit=MetricUnit.Count, value=len(failed))
            return
        retry = FanoutJob(job.room_id, job.frame, connection_ids=tuple(failed), attempt=attempt)
        try:
            self._jobs.enqueue([retry], delay_seconds=2**attempt)
        except QueueUnavailable:
            # Failing the job makes SQS deliver it again: duplicates for some, but nobody is dropped.
            logger.exception("could not queue the failed connections again")
            raise
