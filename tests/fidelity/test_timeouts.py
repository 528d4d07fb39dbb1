"""Timeouts and memory: the function's own (from the template), and API Gateway's integration timeout."""

from __future__ import annotations

import time

from tests.fidelity.probe import Probe, functions, records
from tests.helpers.stack import StackProcess


def test_a_function_past_its_timeout_is_killed(probe_stack: StackProcess, probe: Probe) -> None:
    """Lambda timeout page: at its 1 s timeout the invocation is stopped (the client gets ``Internal server
    error``) and the environment with it: the next invocation is a cold start."""
    before = functions(probe_stack)["sleeper"]["coldStarts"]
    started = time.monotonic()
    probe.send({"type": "kill"})
    probe.message("Internal server error")
    assert 1.0 <= time.monotonic() - started < 2.5  # at the function's 1 s, not the handler's 3 s
    probe.send({"type": "kill"})
    probe.message("Internal server error")
    assert functions(probe_stack)["sleeper"]["coldStarts"] == before + 2  # the killed container is not reused


def test_an_integration_past_its_timeout_gets_endpoint_request_timed_out(probe: Probe) -> None:
    """Quotas page (integration timeout 50 ms - 29 s; TimeoutInMillis 1000 here): API Gateway stops waiting and
    tells the client; the function itself runs on to its end (its own 10 s timeout)."""
    connection_id = probe.connection_id
    started = time.monotonic()
    probe.send({"type": "hang"})
    error = probe.message("Endpoint request timed out")
    assert set(error) == {"message", "connectionId", "requestId"}
    assert 1.0 <= time.monotonic() - started < 2.4  # the handler sleeps 2.5 s
    finished = records(probe, connection_id, "slow-finished")
    assert finished["remaining"] > 6000  # it finished early in its own 10 s


def test_the_function_gets_its_memory_timeout_and_environment_from_the_template(probe: Probe) -> None:
    """Lambda context object and runtime environment variables: memory_limit_in_mb and the remaining time are
    the template's MemorySize (256) and Timeout (7 s); the variables are the template's plus the runtime's."""
    answer = probe.echo()
    assert answer["memory"] == 256
    assert 6000 < answer["remaining"] <= 7000
    environment = answer["environment"]
    assert environment["PROBE_SETTING"] == "plain"  # a plain value, as the template has it
    assert environment["RECORDS_TABLE"].startswith("probe-RecordsTable")  # the table's Ref, mapped to moto's
    assert environment["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "256"
    assert environment["_HANDLER"] == "handler.handler" and environment["LAMBDA_TASK_ROOT"].endswith("functions/echo")
    assert "DATABASE_URL" not in environment and "HOME" not in environment  # nothing of the emulator's own


def test_a_function_over_its_memory_is_killed(probe_stack: StackProcess, probe: Probe) -> None:
    """Lambda memory page: an invocation using more than the function's 128 MB fails (Runtime.OutOfMemory):
    the client gets ``Internal server error``; the next invocation is a cold start."""
    before = functions(probe_stack)["hog"]["coldStarts"]
    probe.send({"type": "hog"})
    probe.message("Internal server error")
    assert not functions(probe_stack)["hog"]["containers"]  # the killed container is gone
    probe.send({"type": "hog"})
    probe.message("Internal server error")
    assert functions(probe_stack)["hog"]["coldStarts"] == before + 2
