"""The fan-out queue of large rooms: SQS (encrypted, TLS only) with a dead-letter queue the alarms watch."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_sqs as sqs
from constructs import Construct

#: A job's messages are retried this often (a worker that died, a throttled Management API) before the
#: dead-letter queue keeps it for inspection.
MAX_RECEIVES = 5


class FanoutQueue(Construct):
    """Jobs live an hour at most (a chat frame older than that is better caught up with ``since``); the
    visibility timeout is the configuration's: by default six times the worker's timeout, as Lambda's SQS
    event source recommends."""

    def __init__(self, scope: Construct, construct_id: str, *, visibility_timeout: Duration) -> None:
        super().__init__(scope, construct_id)
        self.dead_letters = sqs.Queue(
            self,
            "DeadLetters",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=Duration.days(14),
        )
        self.queue = sqs.Queue(
            self,
            "Queue",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=Duration.hours(1),
            visibility_timeout=visibility_timeout,
            dead_letter_queue=sqs.DeadLetterQueue(queue=self.dead_letters, max_receive_count=MAX_RECEIVES),
        )
