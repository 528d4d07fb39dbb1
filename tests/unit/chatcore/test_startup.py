"""chatcore.startup: no garbage collection while a Lambda container starts, then its objects frozen."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from chat_local.lambdas import FUNCTIONS_DIR

from tests.helpers.cold import LAYER

# Run in a fresh interpreter (a container): loads every function's handler module, then invokes ``connect``
# with an event it refuses, and reports the collector's state at each step.
_CONTAINER = """
import gc, importlib.util, json, sys
from pathlib import Path

functions = Path(sys.argv[1])
report = {"before": gc.isenabled()}
modules = {}
for folder in sorted(p for p in functions.iterdir() if (p / "handler.py").is_file()):
    spec = importlib.util.spec_from_file_location(f"{folder.name}_handler", folder / "handler.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    modules[folder.name] = module
from chatcore import startup

wrapper = startup.collect_after_first(lambda: None).__code__
report["outermost"] = {name: m.handler.__code__ is wrapper for name, m in modules.items()}
report["after_import"] = gc.isenabled()
report["holding"] = startup.holding()
report["plugins"] = __import__("os").environ.get("PYDANTIC_DISABLE_PLUGINS")

class Context:
    function_name = "connect"; memory_limit_in_mb = 128; aws_request_id = "r-1"; function_version = "$LATEST"
    invoked_function_arn = "arn:aws:lambda:eu-west-1:123456789012:function:connect"
    def get_remaining_time_in_millis(self): return 3000

try:
    modules["connect"].handler({"not": "an API Gateway event"}, Context())
except Exception as exc:
    report["raised"] = type(exc).__name__
report["after_first"] = gc.isenabled()
report["frozen"] = gc.get_freeze_count()
report["holding_after"] = startup.holding()
print(json.dumps(report))
"""


def _container(**env: str) -> dict[str, object]:
    """The report of :data:`_CONTAINER` run with ``env`` added to a minimal environment."""
    base = {k: v for k, v in os.environ.items() if k not in ("AWS_LAMBDA_FUNCTION_NAME", "PYDANTIC_DISABLE_PLUGINS")}
    base |= {"PYTHONPATH": str(LAYER), "POWERTOOLS_TRACE_DISABLED": "true", "POWERTOOLS_METRICS_DISABLED": "true"}
    done = subprocess.run(
        [sys.executable, "-c", _CONTAINER, str(FUNCTIONS_DIR)],
        env=base | env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    report: dict[str, object] = json.loads(done.stdout.splitlines()[-1])
    return report


def test_a_lambda_container_collects_nothing_until_its_first_invocation_ends() -> None:
    """In a container, the handler imports leave the collector off; the first invocation, even one that fails,
    turns it back on with everything then alive frozen."""
    report = _container(AWS_LAMBDA_FUNCTION_NAME="chat-connect")
    assert report["before"] is True
    assert (report["after_import"], report["holding"]) == (False, True)
    assert report["raised"] == "ValidationError"
    assert (report["after_first"], report["holding_after"]) == (True, False)
    assert isinstance(report["frozen"], int) and report["frozen"] > 10_000


def test_every_function_resumes_collection_around_everything_else() -> None:
    """Each function's handler is wrapped outermost by collect_after_first, so its Powertools decorators' first
    call runs without collections too, and collection resumes whatever they do."""
    outermost = _container(AWS_LAMBDA_FUNCTION_NAME="chat-connect")["outermost"]
    assert isinstance(outermost, dict)
    assert sorted(outermost) == sorted(p.name for p in FUNCTIONS_DIR.iterdir() if (p / "handler.py").is_file())
    assert all(outermost.values()), outermost


def test_outside_a_container_nothing_changes() -> None:
    """Without AWS_LAMBDA_FUNCTION_NAME (tests, tools importing a handler) the collector stays on, nothing frozen."""
    report = _container()
    assert (report["after_import"], report["holding"]) == (True, False)
    assert (report["after_first"], report["frozen"]) == (True, 0)


def test_a_container_skips_pydantic_plugin_discovery_unless_its_environment_says_otherwise() -> None:
    """In a container pydantic looks for no plugins (PYDANTIC_DISABLE_PLUGINS=__all__); a value the function sets
    is kept, and outside a container nothing is set."""
    assert _container(AWS_LAMBDA_FUNCTION_NAME="chat-connect")["plugins"] == "__all__"
    assert _container(AWS_LAMBDA_FUNCTION_NAME="chat-connect", PYDANTIC_DISABLE_PLUGINS="")["plugins"] == ""
    assert _container()["plugins"] is None
