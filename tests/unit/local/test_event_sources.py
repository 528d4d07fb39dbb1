"""The SQS event source mapping's pure parts: the record Lambda builds, and how it reads the function's answer."""

from __future__ import annotations

from typing import Any

from chat_local.event_sources import batch_outcome, sqs_event
from chat_local.pool import Invocation

MESSAGE: dict[str, Any] = {
    "MessageId": "m1",
    "ReceiptHandle": "handle-1",
    "MD5OfBody": "abc",
    "Body": "hello",
    "Attributes": {
        "ApproximateReceiveCount": "3",
        "SentTimestamp": "1545082649183",
        "SenderId": "AIDAIENQZJOLO23YVJ4VO",
        "ApproximateFirstReceiveTimestamp": "1545082649185",
    },
}
IDS = ("a", "b", "c")


def test_a_record_has_lambdas_names_for_receive_messages_fields() -> None:
    """Lambda's "Using Lambda with Amazon SQS": lower camel case, attributes as strings, the queue's ARN and region."""
    attributes = {
        "kind": {"DataType": "String", "StringValue": "x"},
        "blob": {"DataType": "Binary", "BinaryValue": b"\x00"},
    }
    (record,) = sqs_event(
        [{**MESSAGE, "MessageAttributes": attributes, "MD5OfMessageAttributes": "def"}], "arn:q", "eu-west-1"
    )["Records"]
    assert record == {
        "messageId": "m1",
        "receiptHandle": "handle-1",
        "body": "hello",
        "attributes": MESSAGE["Attributes"],
        "messageAttributes": {
            "kind": {"stringValue": "x", "stringListValues": [], "binaryListValues": [], "dataType": "String"},
            "blob": {"binaryValue": "AA==", "stringListValues": [], "binaryListValues": [], "dataType": "Binary"},
        },
        "md5OfBody": "abc",
        "md5OfMessageAttributes": "def",
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:q",
        "awsRegion": "eu-west-1",
    }
    (plain,) = sqs_event([MESSAGE], "arn:q", "eu-west-1")["Records"]
    assert plain["messageAttributes"] == {} and "md5OfMessageAttributes" not in plain


def test_without_reported_failures_a_success_deletes_the_batch_and_a_failure_keeps_it() -> None:
    """ "Using Lambda with Amazon SQS": deleted after a successful invocation; an error returns every record."""
    ok = Invocation("r", result={"batchItemFailures": [{"itemIdentifier": "a"}]})
    assert batch_outcome(ok, IDS, report_failures=False).delete == IDS  # not reported: the answer is ignored
    for outcome in ("error", "timeout", "throttled"):
        failed = batch_outcome(Invocation("r", outcome=outcome), IDS, report_failures=True)
        assert (failed.delete, failed.retry) == ((), IDS)


def test_batch_item_failures_are_read_as_lambda_reads_them() -> None:
    """ "Reporting batch item failures": the named records come back; an empty or null answer is full success;
    an identifier that is empty, null or not of the batch fails the whole batch."""
    partial = batch_outcome(
        Invocation("r", result={"batchItemFailures": [{"itemIdentifier": "b"}]}), IDS, report_failures=True
    )
    assert (partial.delete, partial.retry) == (("a", "c"), ("b",))
    successes: list[Any] = [None, {}, {"batchItemFailures": []}, {"batchItemFailures": None}]
    for success in successes:
        assert batch_outcome(Invocation("r", result=success), IDS, report_failures=True).delete == IDS
    for bad in ([{"itemIdentifier": ""}], [{"itemIdentifier": None}], [{"id": "a"}], [{"itemIdentifier": "z"}], "a"):
        whole = batch_outcome(Invocation("r", result={"batchItemFailures": bad}), IDS, report_failures=True)
        assert (whole.delete, whole.retry) == ((), IDS), bad
