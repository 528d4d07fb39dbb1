"""Cold start: importing a handler builds and imports nothing heavy; Powertools comes on the first call."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from chat_local.lambdas import FUNCTIONS_DIR
from chatcore.observability import tracing_disabled

from tests.helpers.events import load_event

#: What made a cold import slow before: none of these may load while a handler module is imported.
HEAVY = ("aws_lambda_powertools", "aws_xray_sdk", "pydantic", "boto3", "botocore", "psycopg", "jwt")

_LOADED_AFTER_IMPORT = """
import json, sys
sys.path.insert(0, {folder!r})
import handler
print(json.dumps(sorted({{name.split(".")[0] for name in sys.modules}})))
"""

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
print(json.dumps({{"result": result, "xray": "aws_xray_sdk" in sys.modules}}))
"""


def _run(code: str, **env: str) -> list[str] | dict[str, object]:
    base = {"PATH": "/usr/bin:/bin", "AWS_DEFAULT_REGION": "us-east-1", "POWERTOOLS_METRICS_NAMESPACE": "Chat"}
    done = subprocess.run(
        [sys.executable, "-c", code], env={**base, **env}, capture_output=True, text=True, check=False, timeout=60
    )
    assert done.returncode == 0, done.stderr[-3000:]
    parsed: list[str] | dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return parsed


@pytest.mark.parametrize("function", ["connect", "message", "disconnect", "prune"])
def test_importing_a_handler_loads_no_heavy_library(function: str) -> None:
    """A fresh interpreter importing the handler module loads no Powertools, X-Ray, pydantic, boto3 or psycopg."""
    loaded = _run(_LOADED_AFTER_IMPORT.format(folder=str(FUNCTIONS_DIR / function)))
    assert isinstance(loaded, list)
    assert "handler" in loaded
    assert [name for name in HEAVY if name in loaded] == []


def test_first_call_works_and_skips_xray_when_tracing_is_off() -> None:
    """The decorators apply on the first call (a token-less connect is refused) and X-Ray is never imported."""
    event = load_event("ws_connect", queryStringParameters=None, multiValueQueryStringParameters=None)
    outcome = _run(
        _FIRST_CALL.format(folder=str(FUNCTIONS_DIR / "connect"), event=json.dumps(event)),
        TOKEN_SECRET="a-test-signing-secret-long-enough-0123456789",
        DATABASE_URL="postgresql://postgres@127.0.0.1:9/none",
        CONNECTIONS_TABLE="t",
        MANAGEMENT_API_URL="http://127.0.0.1:9",
        AWS_ACCESS_KEY_ID="x",
        AWS_SECRET_ACCESS_KEY="x",
        POWERTOOLS_TRACE_DISABLED="true",
    )
    assert outcome == {"result": {"statusCode": 401, "body": "Unauthorized"}, "xray": False}


@pytest.mark.parametrize(
    ("environ", "disabled"),
    [
        pytest.param({"LAMBDA_TASK_ROOT": "/var/task"}, False, id="in-lambda"),
        pytest.param({"LAMBDA_TASK_ROOT": "/var/task", "POWERTOOLS_TRACE_DISABLED": "true"}, True, id="switched-off"),
        pytest.param({"LAMBDA_TASK_ROOT": "/var/task", "POWERTOOLS_TRACE_DISABLED": "0"}, False, id="switch-false"),
        pytest.param({}, True, id="outside-lambda"),
        pytest.param({"LAMBDA_TASK_ROOT": "/var/task", "AWS_SAM_LOCAL": "true"}, True, id="sam-local"),
    ],
)
def test_tracing_is_off_exactly_when_powertools_would_disable_it(environ: dict[str, str], disabled: bool) -> None:
    """Tracing stays on in Lambda unless switched off, and is off outside Lambda, as Powertools decides."""
    assert tracing_disabled(environ) is disabled
