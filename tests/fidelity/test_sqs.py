"""SQS event sources: chat-local polls the template's queues as Lambda's event source mapping does.

The probe app's ``Jobs`` queue (visibility 3 s, dead letters after 2 receives) feeds ``sqsworker`` (batches of
10 gathered for up to 1 s, partial batch failures, 2 at once); the chat's fan-out queue feeds ``fanout``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from chat_local.sigv4 import REGION

from tests.fidelity import sources
from tests.fidelity.sources import shape
from tests.helpers.clients import Api, ChatClient
from tests.helpers.stack import StackProcess, wait_until

#: The probe app's queue settings (tests/fidelity/probe_app/app.py).
VISIBILITY = 3
MAX_RECEIVES = 2


def _queue(stack: StackProcess, prefix: str) -> tuple[str, str]:
    """The URL and ARN of the stack's queue whose name starts ``<stack>-<prefix>`` (its logical id)."""
    sqs = stack.aws_client("sqs")
    (url,) = sqs.list_queues(QueueNamePrefix=f"probe-{prefix}")["QueueUrls"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return url, arn


def _receives(stack: StackProcess, key: str) -> list[dict[str, Any]]:
    """What ``sqsworker`` recorded for the messages of ``key``, by receive count then message id."""
    dynamodb = stack.aws_client("dynamodb")
    (table,) = dynamodb.list_tables()["TableNames"]
    items = dynamodb.query(
        TableName=table, KeyConditionExpression="pk = :pk", ExpressionAttributeValues={":pk": {"S": f"sqs#{key}"}}
    )["Items"]
    return [json.loads(item["event"]["S"]) for item in sorted(items, key=lambda i: i["sk"]["S"])]


def _wait_for_receives(stack: StackProcess, key: str, count: int, timeout: float = 30.0) -> list[dict[str, Any]]:
    assert wait_until(lambda: len(_receives(stack, key)) >= count, timeout=timeout, interval=0.1), (
        f"sqsworker got {len(_receives(stack, key))} records of {key}, not {count}, within {timeout} s"
    )
    return _receives(stack, key)


def test_the_worker_gets_an_sqs_event_of_lambdas_shape(probe_stack: StackProcess) -> None:
    """Each record has the shape of the SQS event in Lambda's "Using Lambda with Amazon SQS" (and aws-lambda-go's
    captured sqs-event.json), for the queue the template names; the function's queue variables are local."""
    url, arn = _queue(probe_stack, "Jobs")
    _, dead_letters_arn = _queue(probe_stack, "DeadLetters")
    key = uuid.uuid4().hex
    body = json.dumps({"key": key})
    probe_stack.aws_client("sqs").send_message(
        QueueUrl=url,
        MessageBody=body,
        MessageAttributes={
            "kind": {"DataType": "String", "StringValue": "probe"},
            "blob": {"DataType": "Binary", "BinaryValue": b"\x00\x01"},
        },
    )
    (seen,) = _wait_for_receives(probe_stack, key, 1)
    record = seen["record"]
    assert shape(record, sources.SQS_RECORD) == sources.SQS_RECORD
    assert shape(record["messageAttributes"]["kind"], {}) == sources.SQS_STRING_ATTRIBUTE
    assert shape(record["messageAttributes"]["blob"], {}) == sources.SQS_BINARY_ATTRIBUTE
    assert record["messageAttributes"]["kind"]["stringValue"] == "probe"
    assert base64.b64decode(record["messageAttributes"]["blob"]["binaryValue"]) == b"\x00\x01"
    assert (record["eventSource"], record["eventSourceARN"], record["awsRegion"]) == ("aws:sqs", arn, REGION)
    assert record["body"] == body and record["md5OfBody"] == hashlib.md5(body.encode()).hexdigest()  # noqa: S324
    assert record["attributes"]["ApproximateReceiveCount"] == "1"
    assert abs(int(record["attributes"]["SentTimestamp"]) / 1000 - time.time()) < 60
    assert seen["environment"] == {"JOBS_QUEUE_URL": url, "DEAD_LETTERS_ARN": dead_letters_arn}


def test_a_partial_batch_failure_redelivers_only_the_failed_record(probe_stack: StackProcess) -> None:
    """With ReportBatchItemFailures the records not in batchItemFailures are deleted, and only the failed one
    is received again, after the queue's visibility timeout (Lambda's "Reporting batch item failures")."""
    url, _ = _queue(probe_stack, "Jobs")
    key = uuid.uuid4().hex
    bodies = [{"key": key, "n": 0}, {"key": key, "n": 1, "failTimes": 1}, {"key": key, "n": 2}]
    probe_stack.aws_client("sqs").send_message_batch(
        QueueUrl=url, Entries=[{"Id": str(b["n"]), "MessageBody": json.dumps(b)} for b in bodies]
    )
    seen = _wait_for_receives(probe_stack, key, 4)
    by_message: dict[int, list[dict[str, Any]]] = {}
    for item in seen:
        by_message.setdefault(json.loads(item["record"]["body"])["n"], []).append(item)
    assert sorted(by_message) == [0, 1, 2]
    assert [len(by_message[n]) for n in (0, 1, 2)] == [1, 2, 1]
    first, again = by_message[1]
    failed_id = first["record"]["messageId"]
    # One batch of the three (the 1 s batching window gathered them), two of which were deleted.
    assert sorted(first["batch"]) == sorted(by_message[n][0]["record"]["messageId"] for n in (0, 1, 2))
    assert again["batch"] == [failed_id]  # the deleted two do not come back with it
    assert [r["record"]["attributes"]["ApproximateReceiveCount"] for r in (first, again)] == ["1", "2"]
    assert again["at"] - first["at"] >= VISIBILITY - 0.5  # not before its visibility timeout ended


def test_a_record_failing_max_receive_count_times_lands_in_the_dead_letter_queue(probe_stack: StackProcess) -> None:
    """A record the function fails on every receive is moved by SQS to the dead-letter queue of the template's
    RedrivePolicy after maxReceiveCount receives (SQS's "Using dead-letter queues")."""
    url, _ = _queue(probe_stack, "Jobs")
    dead_letters_url, dead_letters_arn = _queue(probe_stack, "DeadLetters")
    sqs = probe_stack.aws_client("sqs")
    policy = json.loads(
        sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["RedrivePolicy"])["Attributes"]["RedrivePolicy"]
    )
    assert policy == {"deadLetterTargetArn": dead_letters_arn, "maxReceiveCount": MAX_RECEIVES}
    key = uuid.uuid4().hex
    body = json.dumps({"key": key, "failTimes": -1})
    message_id = sqs.send_message(QueueUrl=url, MessageBody=body)["MessageId"]

    found: list[dict[str, Any]] = []

    def in_dead_letters() -> bool:
        messages = sqs.receive_message(QueueUrl=dead_letters_url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get(
            "Messages", []
        )
        found.extend(m for m in messages if m["MessageId"] == message_id)
        return bool(found)

    assert wait_until(in_dead_letters, timeout=30.0, interval=0.0), "the record never reached the dead-letter queue"
    assert found[0]["Body"] == body
    receives = [r["record"]["attributes"]["ApproximateReceiveCount"] for r in _receives(probe_stack, key)]
    assert receives == ["1", "2"]  # the function saw it maxReceiveCount times, then SQS moved it


def test_batches_are_of_batch_size_and_no_more_run_at_once_than_maximum_concurrency(probe_stack: StackProcess) -> None:
    """25 messages are received in batches of at most BatchSize (10), and at most ScalingConfig's
    MaximumConcurrency (2) batches run at once ("Using Lambda with Amazon SQS": scaling and concurrency)."""
    url, _ = _queue(probe_stack, "Jobs")
    key = uuid.uuid4().hex
    sqs = probe_stack.aws_client("sqs")
    for start in range(0, 25, 10):
        entries = [
            {"Id": str(n), "MessageBody": json.dumps({"key": key, "n": n, "sleep": 1.2})}
            for n in range(start, min(start + 10, 25))
        ]
        sqs.send_message_batch(QueueUrl=url, Entries=entries)
    seen = _wait_for_receives(probe_stack, key, 25, timeout=60.0)
    assert sorted(json.loads(item["record"]["body"])["n"] for item in seen) == list(range(25))  # each once
    spans = {tuple(sorted(item["batch"])): tuple(item["span"]) for item in seen}
    assert all(len(batch) <= 10 for batch in spans) and len(spans) >= 3
    edges = sorted([(start, 1) for start, _ in spans.values()] + [(end, -1) for _, end in spans.values()])
    running = at_once = 0
    for _, change in sorted(edges, key=lambda edge: (edge[0], edge[1])):
        running += change
        at_once = max(at_once, running)
    assert at_once == 2  # two at once (the cap), never three


# ---------------------------------------------------------------- the chat's fan-out queue


@pytest.fixture(scope="module")
def queued_chat(tmp_root: Path, pg_server: Any) -> Iterator[StackProcess]:
    """The chat with ``--context fanoutLargeRoom=2``: rooms of 3 members go through the fan-out queue."""
    database = pg_server.create_database("fanout_stack", template="chat_template")
    process = StackProcess(
        tmp_root / "fanout-stack-data",
        "--context",
        "fanoutLargeRoom=2",
        env={"DATABASE_URL": database},
        log_path=tmp_root / "fanout-stack.log",
    ).start(timeout=180.0)
    yield process
    process.stop()


def test_a_message_to_a_large_room_reaches_every_member_once_through_the_queue(queued_chat: StackProcess) -> None:
    """With fanoutLargeRoom=2 (CDK context) a message to a 3-member room is queued (FANOUT_QUEUE_URL), and the
    fanout function, invoked by the event source mapping ("Using Lambda with Amazon SQS"), posts it: each
    member's socket gets it exactly once."""
    api = Api(queued_chat.api_url)
    alice, bob, carol = (api.register(name) for name in ("alice", "bob", "carol"))
    room_id = api.create_group(alice, "all-hands")
    clients = [ChatClient(queued_chat.ws_url, account.token) for account in (alice, bob, carol)]
    try:
        for client in clients:
            client.request({"type": "join", "roomId": room_id}, "joined")
        sqs = queued_chat.aws_client("sqs")
        (queue_url,) = [u for u in sqs.list_queues()["QueueUrls"] if "FanoutJobsQueue" in u]
        invoked_before = _invocations(queued_chat, "fanout")

        clients[0].send({"type": "message", "roomId": room_id, "text": "to everyone", "clientMsgId": "m1"})
        got = [client.expect("message", timeout=30.0)["message"] for client in clients]
        assert {m["text"] for m in got} == {"to everyone"} and len({m["id"] for m in got}) == 1

        # Done when the job is deleted (after the worker returned): then no copy can still be on its way.
        assert wait_until(lambda: _queued(sqs, queue_url) == 0, timeout=30.0, interval=0.1)
        assert _invocations(queued_chat, "fanout") > invoked_before  # it went through the queue
        for client in clients:
            assert [f for f in client.drain() if f.get("type") == "message"] == []  # once, not twice
        assert "sqs        fanout <- " in queued_chat.log_path.read_text()
    finally:
        for client in clients:
            client.close()


def _invocations(stack: StackProcess, label: str) -> int:
    status, body = Api(stack.url).call("GET", "/_local/functions")
    assert status == 200, body
    return int(body[label]["invocations"])


def _queued(sqs: Any, url: str) -> int:
    names = [
        "ApproximateNumberOfMessages",
        "ApproximateNumberOfMessagesNotVisible",
        "ApproximateNumberOfMessagesDelayed",
    ]
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names)["Attributes"]
    return sum(int(attributes[name]) for name in names)
