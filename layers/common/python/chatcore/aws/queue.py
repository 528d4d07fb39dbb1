"""The fan-out queue on SQS: a large room's delivery as one job per shard, for the fan-out workers."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from chatcore.errors import QueueUnavailable
from chatcore.records import FanoutJob

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

#: SendMessageBatch takes at most 10 messages of at most 256 KiB together.
_BATCH_COUNT = 10
_BATCH_BYTES = 256 * 1024
_ROUNDS = 3


class FanoutQueue:
    """Sends fan-out jobs to one queue (implements :class:`chatcore.ports.FanoutJobs`)."""

    def __init__(self, client: SQSClient, queue_url: str) -> None:
        self._client = client
        self._url = queue_url

    def enqueue(self, jobs: Sequence[FanoutJob], *, delay_seconds: int = 0) -> None:
        """Queue every job (SendMessageBatch, by ten and by 256 KiB), resending entries SQS refused;
        :class:`QueueUnavailable` if some are still refused, or SQS cannot be reached."""
        batch: list[str] = []
        size = 0
        for job in jobs:
            body = job.to_json()
            if batch and (len(batch) == _BATCH_COUNT or size + len(body.encode()) > _BATCH_BYTES):
                self._send(batch, delay_seconds)
                batch, size = [], 0
            batch.append(body)
            size += len(body.encode())
        if batch:
            self._send(batch, delay_seconds)

    def _send(self, bodies: list[str], delay_seconds: int) -> None:
        entries: list[Any] = [
            {"Id": str(n), "MessageBody": body, "DelaySeconds": min(delay_seconds, 900)}
            for n, body in enumerate(bodies)
        ]
        for _ in range(_ROUNDS):
            try:
                response = self._client.send_message_batch(QueueUrl=self._url, Entries=entries)
            except (BotoCoreError, ClientError) as exc:
                raise QueueUnavailable(f"SQS did not take the fan-out jobs: {exc}") from exc
            refused = {failure["Id"] for failure in response.get("Failed", [])}
            entries = [entry for entry in entries if entry["Id"] in refused]
            if not entries:
                return
        raise QueueUnavailable(f"SQS refused {len(entries)} fan-out job(s) {_ROUNDS} times")
