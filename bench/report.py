"""Render ``RESULTS.md`` from the per-benchmark JSON files in ``<out>/data/``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bench.common import Section, md_table

ORDER = ("fanout", "e2e", "coldstart", "history", "sizes")


def _load(out_dir: Path) -> list[dict[str, Any]]:
    loaded = []
    for path in sorted((out_dir / "data").glob("*.json")):
        loaded.append(json.loads(path.read_text()))
    rank = {name: i for i, name in enumerate(ORDER)}
    return sorted(loaded, key=lambda raw: rank.get(raw["name"], len(ORDER)))


def _machine_lines(raw: dict[str, Any]) -> str:
    m = raw.get("machine", {})
    versions = ", ".join(f"{k} {v}" for k, v in m.get("versions", {}).items())
    return (
        f"{m.get('usable_cores')} cores ({m.get('cpu_model') or 'unknown CPU'}), {m.get('memory_gb')} GB RAM,"
        f" {m.get('implementation', 'CPython')} {m.get('python')} on {m.get('platform')}; {versions}"
    )


def _run_line(raw: dict[str, Any]) -> str:
    m = raw.get("machine", {})
    return (
        f"_{raw.get('mode', '?')} run of {raw.get('seconds', '?')} s at {m.get('when')}, commit"
        f" {m.get('commit') or '?'}; load average {m.get('load_average')} before,"
        f" {m.get('load_average_after')} after._"
    )


def render(out_dir: Path) -> Path:
    raws = _load(out_dir)
    sections = [(raw, Section.from_json(raw)) for raw in raws]
    parts = [
        "# Benchmark results",
        "",
        "Written by `uv run python -m bench` (see [bench/README.md](../README.md) for what each benchmark does"
        " and how to read it). Ratios matter, not absolute times: every baseline ran in the same run, on the"
        " same machine, interleaved with ours where the benchmark allows.",
        "",
    ]
    targets = [(section.title, t) for _raw, section in sections for t in section.targets]
    if targets:
        parts += [
            "## Targets",
            "",
            md_table(
                ["benchmark", "target", "goal", "measured", "met"],
                [[title, t.what, t.goal, t.measured, "yes" if t.met else "**no**"] for title, t in targets],
            ),
            "",
        ]
    machines = {_machine_lines(raw) for raw, _section in sections}
    parts += ["## Machine", ""]
    if len(machines) == 1:
        parts += [next(iter(machines)), ""]
    else:
        parts += ["Differs between sections: see each.", ""]
    parts += [
        "The load average is the machine's (other work was running on it too); a high one inflates the absolute"
        " times of ours and the baselines alike.",
        "",
    ]
    for raw, section in sections:
        parts += [f"## {section.title}", "", _run_line(raw), ""]
        if len(machines) > 1:
            parts += [f"Machine: {_machine_lines(raw)}", ""]
        parts += [section.markdown, ""]
    path = out_dir / "RESULTS.md"
    path.write_text("\n".join(parts).rstrip() + "\n")
    return path
