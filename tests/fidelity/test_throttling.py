"""Throttling: the stage's and routes' rate and burst from the template, applied as API Gateway applies them."""

from __future__ import annotations

import time
import uuid
from concurrent.futures import ThreadPoolExecutor

from websockets.exceptions import InvalidStatus

from tests.fidelity.probe import Probe, settled
from tests.helpers.stack import StackProcess


def test_a_routes_burst_passes_and_the_rest_is_throttled(probe_stack: StackProcess, probe: Probe) -> None:
    """Protect your WebSocket APIs (token bucket per route; burst 2, rate 1 here): of 5 frames at once 2 (or 3
    with a refill) are answered, each other one gets the ``Too Many Requests`` frame."""
    tags = [uuid.uuid4().hex for _ in range(5)]
    for tag in tags:
        probe.send({"type": "limited", "tag": tag})
    settled(probe_stack, probe.connection_id)
    frames = probe.before_marker()
    answered = [f for f in frames if isinstance(f, dict) and f.get("tag") in tags]
    throttled = [f for f in frames if isinstance(f, dict) and f.get("message") == "Too Many Requests"]
    assert len(answered) in (2, 3) and len(answered) + len(throttled) == 5
    assert all(set(f) == {"message", "connectionId", "requestId"} for f in throttled)


def test_connections_over_the_connect_routes_burst_get_429(probe_stack: StackProcess) -> None:
    """Protect your WebSocket APIs ($connect throttled by its route settings; burst 10, rate 10 here): of 16
    upgrades at once no more than the bucket holds pass (10, less what earlier tests took, plus a refill);
    the others get 429."""

    def attempt(_index: int) -> Probe | int:
        try:
            return Probe(probe_stack, retry_throttled=False)
        except InvalidStatus as refused:
            return refused.response.status_code

    with ThreadPoolExecutor(16) as pool:
        outcomes = list(pool.map(attempt, range(16)))
    opened = [o for o in outcomes if isinstance(o, Probe)]
    try:
        assert 1 <= len(opened) <= 12
        assert all(o == 429 for o in outcomes if not isinstance(o, Probe))
    finally:
        for client in opened:
            client.close()
    deadline = time.monotonic() + 5  # the bucket refills (10 a second): connections pass again
    while True:
        try:
            Probe(probe_stack, retry_throttled=False).close()
            break
        except InvalidStatus:
            assert time.monotonic() < deadline
            time.sleep(0.2)
