"""bench.report: how a section's run is described."""

from __future__ import annotations

from bench.report import _run_line


def test_the_run_line_gives_the_speed_probe_when_the_section_has_it() -> None:
    """A section's header shows the fixed loop's time before and after it; older data without it still renders."""
    machine = {
        "when": "2026-12-02 05:00:00 UTC",
        "commit": "abc1234",
        "load_average": [1.0],
        "load_average_after": [2.0],
    }
    probed = _run_line(
        {"mode": "full", "seconds": 12.5, "machine": {**machine, "probe_ms": 80.4, "probe_ms_after": 175.0}}
    )
    assert "took 80 ms before and 175 ms after" in probed and probed.endswith("._")
    plain = _run_line({"mode": "full", "seconds": 12.5, "machine": machine})
    assert plain.endswith("[2.0] after._") and "loop" not in plain
