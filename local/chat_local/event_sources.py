"""Lambda's event source mapping for SQS, against the local SQS (moto): polls a queue, invokes the function.

What Lambda does, and so what this does (the Lambda developer guide's "Using Lambda with Amazon SQS" and
"Reporting batch item failures"):

* **Polling**: ReceiveMessage (long polling) up to the mapping's ``BatchSize`` messages, gathering for at
  most ``MaximumBatchingWindowInSeconds``; the queue's own visibility timeout applies (Lambda passes none).
* **The event**: ``{"Records": [...]}``, each record with ``messageId``, ``receiptHandle``, ``body``,
  ``attributes`` (``ApproximateReceiveCount``, ``SentTimestamp``, ``SenderId``,
  ``ApproximateFirstReceiveTimestamp``, and the FIFO ones when there), ``messageAttributes`` (``stringValue``,
  ``binaryValue``, ``stringListValues``, ``binaryListValues``, ``dataType``), ``md5OfBody``,
  ``md5OfMessageAttributes`` when there are attributes, ``eventSource`` ``aws:sqs``, ``eventSourceARN``,
  ``awsRegion``.
* **After the invocation**: on success every record is deleted; if the invocation fails (an error, a
  timeout, a throttle), none is, and they come back when their visibility timeout ends. With
  ``ReportBatchItemFailures`` the function answers ``{"batchItemFailures": [{"itemIdentifier": id}]}``: the
  others are deleted, the named ones come back; an answer Lambda cannot read (an identifier that is empty,
  missing, or not a message of the batch) fails the whole batch.
* **Redrive**: SQS itself (moto implements ``RedrivePolicy``) moves a message received ``maxReceiveCount``
  times to the dead-letter queue when it would be received once more.
* **Concurrency**: at most ``ScalingConfig.MaximumConcurrency`` batches at once (else the function's reserved
  concurrency, else the local container cap).

Each batch is logged on one line: the function, the queue, the records, what was deleted and what comes back.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from chat_local.pool import FunctionPool, Invocation
from chat_local.spec import EventSourceSpec, QueueSpec
from chat_local.stand_ins import LocalQueue

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

log = logging.getLogger("local_stack")

#: ReceiveMessage returns at most 10 messages a call.
RECEIVE_MAX = 10
#: Long polling per ReceiveMessage: short, so a stop is quick (Lambda's pollers wait 20 s).
WAIT_SECONDS = 1
#: The attributes Lambda puts in a record's ``attributes`` (those a message has).
RECORD_ATTRIBUTES = (
    "ApproximateReceiveCount",
    "SentTimestamp",
    "SenderId",
    "ApproximateFirstReceiveTimestamp",
    "SequenceNumber",
    "MessageGroupId",
    "MessageDeduplicationId",
    "DeadLetterQueueSourceArn",
    "AWSTraceHeader",
)


def sqs_record(message: dict[str, Any], queue_arn: str, region: str) -> dict[str, Any]:
    """One ReceiveMessage message as the record of Lambda's SQS event."""
    attributes = message.get("Attributes", {})
    record: dict[str, Any] = {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": {name: attributes[name] for name in RECORD_ATTRIBUTES if name in attributes},
        "messageAttributes": {
            name: _message_attribute(value) for name, value in (message.get("MessageAttributes") or {}).items()
        },
        "md5OfBody": message["MD5OfBody"],
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    }
    if message.get("MD5OfMessageAttributes"):
        record["md5OfMessageAttributes"] = message["MD5OfMessageAttributes"]
    return record


def _message_attribute(value: dict[str, Any]) -> dict[str, Any]:
    def b64(data: bytes | str) -> str:
        return base64.b64encode(data if isinstance(data, bytes) else data.encode()).decode()

    attribute: dict[str, Any] = {}
    if "StringValue" in value:
        attribute["stringValue"] = value["StringValue"]
    if "BinaryValue" in value:
        attribute["binaryValue"] = b64(value["BinaryValue"])
    attribute["stringListValues"] = list(value.get("StringListValues", []))
    attribute["binaryListValues"] = [b64(item) for item in value.get("BinaryListValues", [])]
    attribute["dataType"] = value["DataType"]
    return attribute


def sqs_event(messages: Sequence[dict[str, Any]], queue_arn: str, region: str) -> dict[str, Any]:
    """Lambda's SQS event for a batch."""
    return {"Records": [sqs_record(message, queue_arn, region) for message in messages]}


@dataclass(frozen=True)
class BatchOutcome:
    """What a batch's invocation means for its messages: which to delete, which come back, and why."""

    delete: tuple[str, ...]
    """Message ids to delete (done with)."""
    retry: tuple[str, ...]
    """Message ids left in the queue: received again after their visibility timeout."""
    why: str


def batch_outcome(invocation: Invocation, message_ids: Sequence[str], *, report_failures: bool) -> BatchOutcome:
    """Lambda's reading of an invocation of a batch (see the module's docstring)."""
    ids = tuple(message_ids)
    if not invocation.ok:
        error = invocation.error or {}
        return BatchOutcome((), ids, f"invocation {invocation.outcome}: {error.get('errorType', '')}".rstrip(": "))
    if not report_failures:
        return BatchOutcome(ids, (), "ok")
    result = invocation.result
    if result is None or (isinstance(result, dict) and not result):
        return BatchOutcome(ids, (), "ok")
    failures = result.get("batchItemFailures") if isinstance(result, dict) else "not an object"
    if failures is None or failures == []:
        return BatchOutcome(ids, (), "ok")
    if not isinstance(failures, list):
        return BatchOutcome((), ids, "batchItemFailures unreadable: the whole batch fails")
    failed: list[str] = []
    for item in failures:
        identifier = item.get("itemIdentifier") if isinstance(item, dict) else None
        if not isinstance(identifier, str) or not identifier or identifier not in ids:
            return BatchOutcome((), ids, f"batchItemFailures names {identifier!r}: the whole batch fails")
        failed.append(identifier)
    return BatchOutcome(
        tuple(i for i in ids if i not in failed), tuple(i for i in ids if i in failed), "batchItemFailures"
    )


class SqsEventSource:
    """One event source mapping, polling its queue while the stack runs."""

    def __init__(
        self,
        source: EventSourceSpec,
        queue: QueueSpec,
        local_queue: LocalQueue,
        pool: FunctionPool,
        client: SQSClient,
        *,
        region: str,
        concurrency: int,
        wait_seconds: int = WAIT_SECONDS,
    ) -> None:
        self.source = source
        self.queue = queue
        self.local_queue = local_queue
        self.pool = pool
        self.concurrency = concurrency
        self._client = client
        self._region = region
        self._wait = wait_seconds
        self._slots = asyncio.Semaphore(concurrency)
        self._poller: asyncio.Task[None] | None = None
        self._batches: set[asyncio.Task[None]] = set()
        self.stats = {"batches": 0, "records": 0, "deleted": 0, "retried": 0, "inFlight": 0}

    @property
    def name(self) -> str:
        return f"{self.pool.spec.label} <- {self.queue.name}"

    def start(self) -> None:
        self._poller = asyncio.get_running_loop().create_task(self._poll())

    async def stop(self, grace: float = 5.0) -> None:
        """Stop receiving; let the batches in flight end (their messages come back if they do not)."""
        if self._poller is not None:
            self._poller.cancel()
            await asyncio.gather(self._poller, return_exceptions=True)
        if self._batches:
            await asyncio.wait(set(self._batches), timeout=grace)
        for task in list(self._batches):
            task.cancel()

    async def _poll(self) -> None:
        failures = 0
        while True:
            await self._slots.acquire()
            try:
                messages = await asyncio.to_thread(self._gather)
                failures = 0
            except Exception as exc:  # moto stopping, or not reachable for a moment
                self._slots.release()
                failures += 1
                if failures in (1, 10):
                    log.warning("sqs        %s: ReceiveMessage failed: %s", self.name, exc)
                await asyncio.sleep(min(0.1 * failures, 2.0))
                continue
            if not messages:
                self._slots.release()
                continue
            task = asyncio.get_running_loop().create_task(self._run(messages))
            self._batches.add(task)
            task.add_done_callback(self._batches.discard)

    def _receive(self, count: int, wait: int) -> list[dict[str, Any]]:
        response = self._client.receive_message(
            QueueUrl=self.local_queue.url,
            MaxNumberOfMessages=min(count, RECEIVE_MAX),
            WaitTimeSeconds=wait,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        return list(response.get("Messages", []))  # type: ignore[arg-type]

    def _gather(self) -> list[dict[str, Any]]:
        """A batch: up to ``BatchSize`` messages, gathered for at most the batching window once one arrived."""
        batch = self._receive(self.source.batch_size, self._wait)
        if not batch or self.source.batching_window <= 0:
            return batch
        deadline = time.monotonic() + self.source.batching_window
        while len(batch) < self.source.batch_size and (left := deadline - time.monotonic()) > 0:
            # Long polls of a second (the least ReceiveMessage waits): the window may be overrun by less than one.
            batch += self._receive(self.source.batch_size - len(batch), 1 if left < self._wait else self._wait)
        return batch

    async def _run(self, messages: list[dict[str, Any]]) -> None:
        started = time.monotonic()
        self.stats["inFlight"] += 1
        try:
            event = sqs_event(messages, self.local_queue.arn, self._region)
            invocation = await self.pool.invoke(event)
            ids = [m["MessageId"] for m in messages]
            outcome = batch_outcome(invocation, ids, report_failures=self.source.report_batch_item_failures)
            handles = {m["MessageId"]: m["ReceiptHandle"] for m in messages}
            not_deleted = await asyncio.to_thread(self._delete, [(i, handles[i]) for i in outcome.delete])
            self.stats["batches"] += 1
            self.stats["records"] += len(ids)
            self.stats["deleted"] += len(outcome.delete) - len(not_deleted)
            self.stats["retried"] += len(outcome.retry)
            counts = sorted({m.get("Attributes", {}).get("ApproximateReceiveCount", "?") for m in messages})
            back = (
                f", {len(outcome.retry)} back after the {self.queue.visibility_timeout} s visibility timeout"
                if outcome.retry
                else ""
            )
            redrive = (
                f" (to {self.queue.dead_letter_queue} after {self.queue.max_receive_count} receives)"
                if outcome.retry and self.queue.max_receive_count
                else ""
            )
            log.info(
                "sqs        %s: %d record%s (receive %s) %s: %d deleted%s%s%s (%d ms)",
                self.name,
                len(ids),
                "" if len(ids) == 1 else "s",
                ",".join(counts),
                outcome.why,
                len(outcome.delete) - len(not_deleted),
                back,
                redrive,
                f", {len(not_deleted)} not deleted" if not_deleted else "",
                (time.monotonic() - started) * 1000,
            )
        except Exception:
            log.exception("sqs        %s: a batch failed in the poller", self.name)
        finally:
            self.stats["inFlight"] -= 1
            self._slots.release()

    def _delete(self, entries: list[tuple[str, str]]) -> list[str]:
        """DeleteMessageBatch by tens; the ids SQS did not delete."""
        failed: list[str] = []
        for start in range(0, len(entries), RECEIVE_MAX):
            chunk = entries[start : start + RECEIVE_MAX]
            response = self._client.delete_message_batch(
                QueueUrl=self.local_queue.url,
                Entries=[{"Id": str(n), "ReceiptHandle": handle} for n, (_, handle) in enumerate(chunk)],
            )
            failed += [chunk[int(f["Id"])][0] for f in response.get("Failed", [])]
        return failed
