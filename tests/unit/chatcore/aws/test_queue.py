"""The fan-out queue against moto's SQS: batching by count and size, the bodies, delays and refused entries."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from chatcore.aws.queue import FanoutQueue
from chatcore.errors import QueueUnavailable
from chatcore.records import FanoutJob

FRAME = '{"type":"message","roomId":7,"message":{"id":1,"text":"hi"}}'


class Recording:
    """moto's SQS client, recording every SendMessageBatch; ``refuse`` names entry ids SQS reports as failed
    (moto never refuses one), for that many calls."""

    def __init__(self, real: Any) -> None:
        self._real = real
        self.batches: list[list[dict[str, Any]]] = []
        self.refuse: set[str] = set()
        self.refusing_calls = 0

    def send_message_batch(self, *, QueueUrl: str, Entries: list[dict[str, Any]]) -> Any:
        self.batches.append(Entries)
        if self.refusing_calls > 0:
            self.refusing_calls -= 1
            refused = [e for e in Entries if e["Id"] in self.refuse]
            accepted = [e for e in Entries if e["Id"] not in self.refuse]
            response = self._real.send_message_batch(QueueUrl=QueueUrl, Entries=accepted) if accepted else {}
            failed = [
                {"Id": e["Id"], "SenderFault": False, "Code": "InternalError", "Message": "try again"} for e in refused
            ]
            return {"Successful": response.get("Successful", []), "Failed": failed}
        return self._real.send_message_batch(QueueUrl=QueueUrl, Entries=Entries)


@pytest.fixture
def sqs(aws: None) -> Any:
    return boto3.client("sqs", region_name="us-east-1")


@pytest.fixture
def url(sqs: Any) -> str:
    return str(sqs.create_queue(QueueName="fanout-jobs")["QueueUrl"])


def _received(sqs: Any, url: str) -> list[FanoutJob]:
    jobs: list[FanoutJob] = []
    while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
        jobs += [FanoutJob.from_json(m["Body"]) for m in messages]
        sqs.delete_message_batch(
            QueueUrl=url, Entries=[{"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(messages)]
        )
    return jobs


def test_jobs_go_ten_to_a_call_and_come_back_as_they_were(sqs: Any, url: str) -> None:
    """25 jobs are three SendMessageBatch calls (10, 10, 5), and every body reads back as the job it was."""
    recording = Recording(sqs)
    jobs = [FanoutJob(7, FRAME, shard=n) for n in range(25)]
    FanoutQueue(recording, url).enqueue(jobs)  # type: ignore[arg-type]
    assert [len(batch) for batch in recording.batches] == [10, 10, 5]
    assert sorted(_received(sqs, url), key=lambda j: j.shard or 0) == jobs


def test_large_jobs_are_split_so_no_call_passes_256_kib(sqs: Any, url: str) -> None:
    """Jobs of about 60 KiB each (a retry's connection list) go four to a call, never over SQS's 256 KiB."""
    recording = Recording(sqs)
    ids = tuple(f"conn-{n:07d}-ABCDEFGHIJKL=" for n in range(2200))
    jobs = [FanoutJob(7, FRAME, connection_ids=ids, attempt=n) for n in range(6)]
    assert 55_000 < len(jobs[0].to_json()) < 64_000
    FanoutQueue(recording, url).enqueue(jobs)  # type: ignore[arg-type]
    sizes = [sum(len(e["MessageBody"].encode()) for e in batch) for batch in recording.batches]
    assert [len(batch) for batch in recording.batches] == [4, 2]
    assert all(size <= 256 * 1024 for size in sizes)
    assert sorted(_received(sqs, url), key=lambda j: j.attempt) == jobs


def test_a_retry_is_queued_with_its_delay_and_stays_hidden_until_then(sqs: Any, url: str) -> None:
    """``delay_seconds`` becomes each entry's DelaySeconds (capped at SQS's 900): the job is not received yet."""
    recording = Recording(sqs)
    queue = FanoutQueue(recording, url)  # type: ignore[arg-type]
    queue.enqueue([FanoutJob(7, FRAME, connection_ids=("c1",), attempt=2)], delay_seconds=4)
    queue.enqueue([FanoutJob(7, FRAME, connection_ids=("c2",), attempt=3)], delay_seconds=5000)
    assert [[e["DelaySeconds"] for e in batch] for batch in recording.batches] == [[4], [900]]
    assert sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []) == []
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessagesDelayed"])
    assert attributes["Attributes"]["ApproximateNumberOfMessagesDelayed"] == "2"


def test_an_entry_sqs_refuses_is_sent_again_alone(sqs: Any, url: str) -> None:
    """An entry reported in ``Failed`` is resent in the next call (only it); nothing is queued twice."""
    recording = Recording(sqs)
    recording.refuse, recording.refusing_calls = {"1"}, 1
    jobs = [FanoutJob(7, FRAME, shard=n) for n in range(3)]
    FanoutQueue(recording, url).enqueue(jobs)  # type: ignore[arg-type]
    assert [[e["Id"] for e in batch] for batch in recording.batches] == [["0", "1", "2"], ["1"]]
    assert sorted(_received(sqs, url), key=lambda j: j.shard or 0) == jobs


def test_an_entry_refused_every_time_raises_queue_unavailable(sqs: Any, url: str) -> None:
    """An entry still refused after three calls raises QueueUnavailable saying how many were refused."""
    recording = Recording(sqs)
    recording.refuse, recording.refusing_calls = {"0"}, 99
    with pytest.raises(QueueUnavailable, match=r"refused 1 fan-out job\(s\) 3 times"):
        FanoutQueue(recording, url).enqueue([FanoutJob(7, FRAME, shard=0), FanoutJob(7, FRAME, shard=1)])  # type: ignore[arg-type]
    assert len(recording.batches) == 3
    assert [job.shard for job in _received(sqs, url)] == [1]  # the accepted one went through once


def test_a_queue_sqs_cannot_reach_raises_queue_unavailable(sqs: Any, url: str) -> None:
    """SQS's own error (here: no such queue) surfaces as QueueUnavailable, not a botocore exception."""
    missing = url.rsplit("/", 1)[0] + "/no-such-queue"
    with pytest.raises(QueueUnavailable, match="SQS did not take the fan-out jobs"):
        FanoutQueue(sqs, missing).enqueue([FanoutJob(7, FRAME, shard=0)])


def test_nothing_to_queue_makes_no_call(sqs: Any, url: str) -> None:
    """An empty list of jobs sends nothing."""
    recording = Recording(sqs)
    FanoutQueue(recording, url).enqueue([])  # type: ignore[arg-type]
    assert recording.batches == []
