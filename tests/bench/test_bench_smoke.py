"""The benchmark code still runs: the quick fan-out on tiny N, end to end into RESULTS.md (no timing asserted)."""

from __future__ import annotations

from pathlib import Path

from bench import fanout
from bench.common import save_json
from bench.report import render


def test_quick_fanout_on_tiny_n_writes_its_table_plots_and_targets(tmp_path: Path) -> None:
    """Every mode posts to every connection (checked by the run itself), and the report shows each cell."""
    section = fanout.run(quick=True, out_dir=tmp_path, work_dir=tmp_path / "work", sizes=(2, 4))
    save_json(tmp_path / "data" / "fanout.json", {**section.to_json(), "mode": "quick", "machine": {}})
    report = render(tmp_path).read_text()

    cells = {(row["latency_ms"], row["n"], row["mode"]) for row in section.data["rows"]}
    expected = {(latency, n, mode) for latency in (0.0, 15.0) for n in (2, 4) for mode in "abc"}
    assert cells == expected - {(15.0, 2, "c"), (15.0, 4, "c")}  # (c) is the limit without latency
    assert all(row["wall_ms"] > 0 and row["cpu_ms_per_recipient"] > 0 for row in section.data["rows"])
    # Both targets were evaluated from this run's numbers and appear in the report with their verdicts.
    assert len(section.targets) == 2 and all(t.measured for t in section.targets)
    assert all(t.measured in report for t in section.targets)
    assert (tmp_path / "fanout.png").stat().st_size > 0
    assert "## 1. Fan-out through the Management API" in report
    assert report.count("| (b) ours |") == 4  # one row per (latency, N)
