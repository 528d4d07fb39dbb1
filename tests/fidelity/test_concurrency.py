"""Concurrency and containers: frames are invoked independently, each in an execution environment of its own."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from tests.fidelity.probe import Probe, functions, settled
from tests.helpers.clients import Api
from tests.helpers.stack import StackProcess


def tagged(tag: str) -> Callable[[Any], bool]:
    return lambda frame: isinstance(frame, dict) and frame.get("tag") == tag


def test_frames_of_one_connection_are_handled_concurrently_not_in_order(probe: Probe) -> None:
    """Lambda scaling: each concurrent request gets an execution environment; a slow frame does not hold back
    the frame after it, which answers first."""
    slow, fast = uuid.uuid4().hex, uuid.uuid4().hex
    probe.send({"type": "echo", "tag": slow, "sleep": 1500})
    probe.send({"type": "echo", "tag": fast})
    first = probe.wait_for(lambda f: isinstance(f, dict) and f.get("tag") in (slow, fast))
    second = probe.wait_for(lambda f: isinstance(f, dict) and f.get("tag") in (slow, fast))
    assert (first["tag"], second["tag"]) == (fast, slow)
    assert first["pid"] != second["pid"]  # two containers at once


def test_containers_are_processes_reused_while_warm_with_their_own_state(probe: Probe) -> None:
    """Lambda execution environment: one invocation at a time per environment, reused while warm, module
    state its own: sequential frames meet one process whose counter grows, concurrent ones another."""
    first, again = probe.echo(), probe.echo()
    assert again["pid"] == first["pid"] and again["invocations"] == first["invocations"] + 1
    tags = [uuid.uuid4().hex for _ in range(3)]
    for tag in tags:
        probe.send({"type": "echo", "tag": tag, "sleep": 700})
    answers = [probe.wait_for(tagged(tag)) for tag in tags]
    assert len({a["pid"] for a in answers}) == 3


def test_reserved_concurrency_throttles_what_is_beyond_it(probe_stack: StackProcess, probe: Probe) -> None:
    """Reserved concurrency page: with 1 reserved, a second concurrent invocation is throttled (the client
    gets the integration's failure, ``Internal server error``); the first completes."""
    probe.send({"type": "single"})
    probe.send({"type": "single"})
    assert probe.wait_for(lambda f: isinstance(f, dict) and f.get("type") == "single")
    assert probe.message("Internal server error")
    settled(probe_stack, probe.connection_id)
    assert probe.before_marker() == []  # exactly one of each
    assert functions(probe_stack)["single"]["reserved"] == 1


def test_rest_requests_run_in_parallel_containers_each_with_its_own_request(stack: StackProcess) -> None:
    """Lambda scaling: concurrent HTTP API requests run in separate environments (Powertools' resolver keeps the
    current event per process), so 8 registrations at once each answer their own user."""
    api = Api(stack.api_url)
    names = [f"par_{uuid.uuid4().hex[:10]}" for _ in range(8)]

    def register(name: str) -> str:
        status, body = api.call("POST", "/auth/register", {"username": name, "password": "correct horse battery"})
        assert status == 201, body
        return str(body["user"]["username"])

    with ThreadPoolExecutor(8) as pool:
        assert list(pool.map(register, names)) == names
    assert len(functions(stack)["rest"]["containers"]) > 1


def test_idle_containers_are_recycled(short_probe_stack: StackProcess) -> None:
    """Lambda execution environment lifecycle: an environment idle for a while is shut down; the next
    invocation is a cold start in a new one (after 2 s here: --container-idle-timeout)."""
    client = Probe(short_probe_stack)
    first = client.echo()["pid"]
    client.close()
    deadline = time.monotonic() + 10
    while any(c["pid"] == first for c in functions(short_probe_stack)["echo"]["containers"]):
        assert time.monotonic() < deadline, "the idle container was never recycled"
        time.sleep(0.1)
    again = Probe(short_probe_stack)
    try:
        assert again.echo()["pid"] != first
    finally:
        again.close()
