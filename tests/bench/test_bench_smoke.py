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


def test_a_full_fanout_run_sweeps_the_pool_size_with_cpu_per_post(tmp_path: Path) -> None:
    """Outside --quick, both pool-size sweeps run (15 ms, and a room at 0 ms) and report CPU per post."""
    section = fanout.run(quick=False, out_dir=tmp_path, work_dir=tmp_path / "work", sizes=(2, 4))
    room_sweep = section.data["room_sweep"]
    assert [row["workers"] for row in room_sweep] == [1, 2, 4, 8, 32]
    assert [row["workers"] for row in section.data["worker_sweep"]] == [8, 16, 32, 64, 128]
    assert all(row["cpu_ms_per_post"] > 0 for row in room_sweep + section.data["worker_sweep"])
    assert f"ms of CPU on 1 thread(s) and {room_sweep[-1]['cpu_ms_per_post']:.3f} ms on 32" in section.markdown
    assert section.markdown.count("| CPU ms / post |") == 2
