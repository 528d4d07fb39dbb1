"""The large-room benchmark's harness still works: tiny rooms, every connection posted to exactly once (no
timing asserted)."""

from __future__ import annotations

from pathlib import Path

from bench import fanout_large
from bench.common import save_json
from bench.report import render


def test_every_connection_of_each_room_is_posted_exactly_once_by_one_and_two_workers(tmp_path: Path) -> None:
    """A room of 25 (one shard) and one of 2,001 (two shards, so two jobs) through the queue, by 1 then 2 worker
    processes: the counting endpoint saw each id once per run; the report shows every cell and the plot."""
    data = fanout_large.measure(
        (25, 2_001), (1, 2), work_dir=tmp_path / "work", threads=16, budget=100_000, latency_ms=1, check_ids=True
    )
    cells = {(r["members"], r["workers"]): r for r in data["rows"]}
    assert set(cells) == {(25, 1), (25, 2), (2_001, 1), (2_001, 2)}
    assert all(r["every_once"] and r["posts"] == r["distinct"] == r["members"] for r in cells.values())
    assert (cells[(25, 1)]["shards"], cells[(2_001, 1)]["shards"]) == (1, 2)
    assert [s["shards"] for s in data["setup"]] == [1, 2]

    section = fanout_large.report(data, tmp_path, quick=True)
    save_json(tmp_path / "data" / "fanout_large.json", {**section.to_json(), "mode": "quick", "machine": {}})
    text = render(tmp_path).read_text()
    assert "## 1b. Large rooms: the fan-out queue and its workers" in text
    assert "| 2001 | 2 | 1 |" in text and "| 2001 | 2 | 2 |" in text  # a row per (room, workers)
    assert (tmp_path / "fanout-large.png").stat().st_size > 0


def test_room_shards_match_migration_0009() -> None:
    """The benchmark sizes its rooms' shards as the database does: one per 2,000 members, a power of two."""
    assert [fanout_large.room_shards(n) for n in (1, 2_000, 2_001, 10_000, 100_000, 5_000_000)] == [
        1,
        1,
        2,
        8,
        64,
        1024,
    ]
