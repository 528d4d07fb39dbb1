"""``functions/fanout``: the real handler module on moto, invoked with an SQS event of fan-out jobs."""

from __future__ import annotations

import json
from types import ModuleType
from typing import Any

import boto3
import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError
from chatcore.aws.registry import ConnectionRegistry

from tests.helpers.events import load_event
from tests.unit.functions.conftest import Logs
from tests.unit.functions.ws_support import configure, delivered_to, fresh_handler, invoke

ROOM = 7
"""The room of the sample event's jobs."""


@pytest.fixture
def handler(monkeypatch: pytest.MonkeyPatch, registry: ConnectionRegistry) -> ModuleType:
    configure(monkeypatch, None)  # the worker needs no database
    queue = boto3.client("sqs", region_name="us-east-1").create_queue(QueueName="chat-fanout-jobs")
    monkeypatch.setenv("FANOUT_QUEUE_URL", queue["QueueUrl"])
    return fresh_handler("fanout")


def _subscribe(registry: ConnectionRegistry, *connection_ids: str) -> None:
    for n, connection_id in enumerate(connection_ids):
        registry.subscribe_rooms(registry.add_connection(connection_id, n + 1, f"user{n}").record, {ROOM: 1})


def test_a_malformed_record_is_the_only_failure_reported(
    handler: ModuleType, registry: ConnectionRegistry, logs: Logs
) -> None:
    """The good job posts its frame to every connection of its shard once; the malformed one is named in
    ``batchItemFailures`` so SQS delivers only it again (and, after its receives, moves it to the DLQ)."""
    _subscribe(registry, "conn-a=", "conn-b=")
    event = load_event("sqs_fanout")

    answer = invoke(handler, "fanout", event)

    assert answer == {"batchItemFailures": [{"itemIdentifier": event["Records"][1]["messageId"]}]}
    for connection_id in ("conn-a=", "conn-b="):
        frames = delivered_to(connection_id)
        assert [(f["type"], f["message"]["id"], f["message"]["text"]) for f in frames] == [
            ("message", 41, "all hands in five")
        ]
    posted = [line["FanoutPosts"] for line in logs() if "_aws" in line and "FanoutPosts" in line]
    assert posted in ([2], [[2]])  # one record posted to two connections (EMF lists repeated values)


def test_when_every_record_fails_the_invocation_fails(
    handler: ModuleType, registry: ConnectionRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A shard that cannot be read (the registry is unreachable) fails its record; with no record left that
    succeeded, the whole invocation fails and SQS delivers the batch again: nobody is skipped."""
    _subscribe(registry, "conn-a=")
    monkeypatch.setenv("CONNECTIONS_TABLE", "no-such-table")
    handler = fresh_handler("fanout")
    event = load_event("sqs_fanout")
    event["Records"] = event["Records"][:1]

    with pytest.raises(BatchProcessingError):
        invoke(handler, "fanout", event)
    assert delivered_to("conn-a=") == []


def test_a_retry_job_posts_only_to_its_own_connections(handler: ModuleType, registry: ConnectionRegistry) -> None:
    """A job carrying connection ids (a retry of failed posts) posts to those alone, not to the room's shard."""
    _subscribe(registry, "conn-a=", "conn-b=")
    event = load_event("sqs_fanout")
    good = event["Records"][0]
    job: dict[str, Any] = json.loads(good["body"])
    job.update(shard=None, connections=["conn-b="], attempt=2)
    good["body"] = json.dumps(job)
    event["Records"] = [good]

    assert invoke(handler, "fanout", event) == {"batchItemFailures": []}
    assert delivered_to("conn-a=") == []
    assert [f["message"]["id"] for f in delivered_to("conn-b=")] == [41]
