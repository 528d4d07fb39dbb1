"""The end-to-end benchmark's capacity: the highest rate held within the p99 limit with nothing lost."""

from __future__ import annotations

from bench import e2e


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
