"""The end-to-end benchmark: its capacity verdict and the CPU it charges to each process of the stack."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from bench import e2e

BURN = "import time\nend = time.process_time() + 0.4\nwhile time.process_time() < end: pass\ntime.sleep(30)"


def test_capacity_is_the_highest_rate_held_within_the_limit_with_nothing_lost() -> None:
    """A rate over the p99 limit or with a lost delivery does not count; none held gives 0."""
    rows = [
        {"rate": 10, "p99_ms": 120.0, "lost": 0},
        {"rate": 20, "p99_ms": e2e.SWEEP_P99_MS, "lost": 0},
        {"rate": 30, "p99_ms": 200.0, "lost": 3},
        {"rate": 40, "p99_ms": 900.0, "lost": 0},
    ]
    assert e2e.sweep_capacity(rows) == 20
    assert e2e.sweep_capacity([{"rate": 10, "p99_ms": 600.0, "lost": 0}]) == 0
    assert e2e.sweep_capacity([]) == 0


@pytest.mark.skipif(not os.path.isdir("/proc"), reason="reads /proc")
def test_a_process_of_the_stack_is_charged_its_cpu_by_kind() -> None:
    """A descendant that burns 0.4 s of CPU shows under its kind (moto here), not under another."""
    before = e2e.stack_cpu(os.getpid())
    # The command line names chat_local.moto_server, which is how the stack's moto process is told apart.
    child = subprocess.Popen([sys.executable, "-c", BURN, "chat_local.moto_server"])
    try:
        deadline = time.monotonic() + 20
        while (used := e2e.stack_cpu(os.getpid()).get("moto", 0.0) - before.get("moto", 0.0)) < 0.35:
            assert time.monotonic() < deadline, f"moto charged {used:.2f} s"
            time.sleep(0.05)
        assert used < 1.0
    finally:
        child.kill()
        child.wait()


def test_cpu_per_message_is_the_difference_over_the_messages() -> None:
    """Milliseconds per message by kind, largest first; kinds that used nothing are left out."""
    before = {"gateway": 1.0, "moto": 2.0, "postgres": 0.5}
    after = {"gateway": 2.0, "moto": 2.5, "postgres": 0.5, "message": 3.0}
    assert list(e2e.cpu_ms_per_message(before, after, 100).items()) == [
        ("message", 30.0),
        ("gateway", 10.0),
        ("moto", 5.0),
    ]
