"""SQS: the fan-out queue's jobs, each a page of a large room's delivery; failed jobs are reported one by one
(``ReportBatchItemFailures``), so SQS delivers again only those."""

from __future__ import annotations

from chatcore import startup  # first: no garbage collection until the container has started

# isort: split
from functools import cache
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from chatcore.composition import build_fanout_worker
from chatcore.observability import logger, metrics, tracer
from chatcore.records import FanoutJob
from chatcore.service.delivery import FanoutWorker

processor = BatchProcessor(event_type=EventType.SQS)


@cache
def worker() -> FanoutWorker:
    """DynamoDB, the Management API and SQS, built on this container's first invocation."""
    return build_fanout_worker()


def deliver(record: SQSRecord) -> None:
    job = FanoutJob.from_json(record.body)
    delivered = worker().run(job)
    metrics.add_metric(name="FanoutPosts", unit=MetricUnit.Count, value=delivered)


@startup.collect_after_first
@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(event=event, record_handler=deliver, processor=processor, context=context)
