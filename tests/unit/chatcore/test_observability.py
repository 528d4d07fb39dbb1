"""Logger, Tracer and Metrics: Powertools objects built when a handler is imported, shared by every function."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from aws_lambda_powertools import Logger, Metrics, Tracer
from chat_local.lambdas import FUNCTIONS_DIR
from chatcore import observability

from tests.helpers.cold import LAYER
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


_TRACER = """
import asyncio, json, sys
from chatcore.observability import Untraced, tracer

@tracer.capture_method
def double(n):
    return 2 * n

@tracer.capture_method
async def triple(n):
    return 3 * n

@tracer.capture_method
def fail():
    raise LookupError("kept")

try:
    fail()
    raised = None
except LookupError as exc:
    raised = str(exc)
print(json.dumps({
    "untraced": isinstance(tracer.provider, Untraced), "disabled": tracer.disabled,
    "xray_recorder": "aws_xray_sdk.core" in sys.modules,
    "results": [double(2), asyncio.run(triple(2))], "raised": raised,
}))
"""


def _tracer_report(**env: str) -> dict[str, object]:
    """What a fresh interpreter's Tracer is with ``env``, and what three traced functions did under it."""
    base = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(LAYER), "AWS_DEFAULT_REGION": "us-east-1"}
    done = subprocess.run(
        [sys.executable, "-c", _TRACER], env=base | env, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report: dict[str, object] = json.loads(done.stdout.splitlines()[-1])
    return report


def test_with_tracing_disabled_the_xray_sdk_is_never_loaded_and_traced_code_still_runs() -> None:
    """In Lambda with POWERTOOLS_TRACE_DISABLED, the Tracer records nothing and never loads the X-Ray recorder;
    traced functions, async ones too, return their values and raise their errors."""
    report = _tracer_report(LAMBDA_TASK_ROOT="/var/task", POWERTOOLS_TRACE_DISABLED="true")
    assert report == {
        "untraced": True,
        "disabled": True,
        "xray_recorder": False,
        "results": [4, 6],
        "raised": "kept",
    }


def test_outside_lambda_tracing_is_off_without_the_xray_sdk() -> None:
    """Outside Lambda (no LAMBDA_TASK_ROOT: the local stack's tools, tests) tracing is off as Powertools has it."""
    report = _tracer_report()
    assert (report["untraced"], report["disabled"], report["xray_recorder"]) == (True, True, False)


def test_in_lambda_with_tracing_on_the_tracer_records_to_xray() -> None:
    """In Lambda without POWERTOOLS_TRACE_DISABLED, the Tracer is Powertools' own, on the X-Ray recorder."""
    report = _tracer_report(LAMBDA_TASK_ROOT="/var/task", AWS_XRAY_CONTEXT_MISSING="IGNORE_ERROR")
    assert (report["untraced"], report["disabled"], report["xray_recorder"]) == (False, False, True)
    assert (report["results"], report["raised"]) == ([4, 6], "kept")


@pytest.mark.parametrize(
    ("env", "enabled"),
    [
        ({"LAMBDA_TASK_ROOT": "/var/task"}, True),
        ({"LAMBDA_TASK_ROOT": "/var/task", "POWERTOOLS_TRACE_DISABLED": "TRUE"}, False),
        ({"LAMBDA_TASK_ROOT": "/var/task", "POWERTOOLS_TRACE_DISABLED": "1"}, False),
        ({"LAMBDA_TASK_ROOT": "/var/task", "POWERTOOLS_TRACE_DISABLED": "false"}, True),
        ({"LAMBDA_TASK_ROOT": "/var/task", "POWERTOOLS_TRACE_DISABLED": "t"}, False),
        ({"LAMBDA_TASK_ROOT": "/var/task", "AWS_SAM_LOCAL": "true"}, False),
        ({"LAMBDA_TASK_ROOT": "/var/task", "AWS_CHALICE_CLI_MODE": "true"}, False),
        ({}, False),
    ],
)
def test_tracing_is_on_only_in_lambda_unless_disabled(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], enabled: bool
) -> None:
    """Powertools' rule: tracing on in Lambda, off by POWERTOOLS_TRACE_DISABLED (any of Powertools' true values),
    in SAM's or Chalice's emulator, or elsewhere."""
    for name in ("LAMBDA_TASK_ROOT", "POWERTOOLS_TRACE_DISABLED", "AWS_SAM_LOCAL", "AWS_CHALICE_CLI_MODE"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert observability.tracing_enabled() is enabled
