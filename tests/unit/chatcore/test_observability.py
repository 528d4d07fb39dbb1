"""Logger, Tracer and Metrics: Powertools objects built when a handler is imported, shared by every function."""

from __future__ import annotations

import json
import subprocess
import sys

from aws_lambda_powertools import Logger, Metrics, Tracer
from chat_local.lambdas import FUNCTIONS_DIR
from chatcore import observability

from tests.helpers.events import load_event

_FIRST_CALL = """
import json, sys
sys.path.insert(0, {folder!r})
import handler

class Context:
    function_name = "connect"
    function_version = "$LATEST"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:us-east-1:000000000000:function:connect"
    aws_request_id = "00000000-0000-0000-0000-000000000000"

event = json.loads({event!r})
result = handler.handler(event, Context())
print(json.dumps({{"result": result}}))
"""


def test_the_three_objects_are_powertools_own_with_one_service_name() -> None:
    """logger, tracer and metrics are Powertools' classes, named "chat", metrics in the "Chat" namespace."""
    assert isinstance(observability.logger, Logger)
    assert isinstance(observability.tracer, Tracer)
    assert isinstance(observability.metrics, Metrics)
    assert observability.logger.service == "chat"
    assert observability.metrics.namespace == "Chat"


def test_a_handler_in_a_fresh_interpreter_logs_json_and_answers() -> None:
    """Imported and called as Lambda would: a token-less connect is refused, logged as JSON with its request id."""
    event = load_event("ws_connect", queryStringParameters=None, multiValueQueryStringParameters=None)
    env = {
        "PATH": "/usr/bin:/bin",
        "AWS_DEFAULT_REGION": "us-east-1",
        "TOKEN_SECRET": "a-test-signing-secret-long-enough-0123456789",
        "DATABASE_URL": "postgresql://postgres@127.0.0.1:9/none",
        "CONNECTIONS_TABLE": "t",
        "MANAGEMENT_API_URL": "http://127.0.0.1:9",
        "AWS_ACCESS_KEY_ID": "x",
        "AWS_SECRET_ACCESS_KEY": "x",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_LOG_LEVEL": "INFO",
    }
    code = _FIRST_CALL.format(folder=str(FUNCTIONS_DIR / "connect"), event=json.dumps(event))
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=False, timeout=60
    )
    assert done.returncode == 0, done.stderr[-3000:]
    lines = [json.loads(line) for line in done.stdout.strip().splitlines()]
    outcome = lines[-1]
    assert outcome == {"result": {"statusCode": 401, "body": "Unauthorized"}}
    refused = next(line for line in lines if line.get("message") == "connection refused")
    assert refused["service"] == "chat"
    assert refused["correlation_id"] == event["requestContext"]["requestId"]
