"""What every benchmark shares: progress lines, statistics, child processes and the machine's facts."""

from __future__ import annotations

import contextlib
import importlib.metadata
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
RESULTS_DIR = REPO_ROOT / "bench" / "results"
_started = time.monotonic()

#: The local AWS settings every benchmark client uses (nothing here reaches AWS).
LOCAL_AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "local",
    "AWS_SECRET_ACCESS_KEY": "local",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
}


def progress(message: str) -> None:
    """One progress line on stderr, with the seconds since the run started."""
    print(f"[{time.monotonic() - _started:7.1f}s] {message}", file=sys.stderr, flush=True)


def use_local_aws_env() -> None:
    """Point boto3 at fake credentials and a region; benchmarks only talk to local endpoints."""
    for key, value in LOCAL_AWS_ENV.items():
        os.environ.setdefault(key, value)


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0-100) by linear interpolation; NaN for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    position = (len(ordered) - 1) * q / 100
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def fmt(value: float, digits: int = 1) -> str:
    """A number for a Markdown table; ``n/a`` for NaN."""
    if value != value:  # NaN
        return "n/a"
    return f"{value:,.{digits}f}"


def md_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A Markdown table (numbers right-aligned)."""
    align = ["---:" if rows and isinstance(rows[0][i], (int, float)) else "---" for i in range(len(headers))]
    lines = ["| " + " | ".join(headers) + " |", "| " + " | ".join(align) + " |"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


PROBE_ADDITIONS = 2_000_000


def speed_probe() -> float:
    """Milliseconds a fixed pure-Python loop (:data:`PROBE_ADDITIONS` additions) takes now: how fast this
    shared machine is at the moment, so that runs on a slower moment can be told apart from slower code."""
    began = time.perf_counter()
    total = 0
    for i in range(PROBE_ADDITIONS):
        total += i
    return round((time.perf_counter() - began) * 1000, 1)


def machine_facts() -> dict[str, Any]:
    """Cores, CPU, Python and library versions, load: what a reader needs to weigh the numbers."""
    cpu_model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    memory_gb = float("nan")
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                memory_gb = int(line.split()[1]) / 1024 / 1024
                break
    versions = {}
    for dist in ("boto3", "botocore", "aws-lambda-powertools", "pydantic", "psycopg", "aiohttp", "websockets", "moto"):
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            versions[dist] = importlib.metadata.version(dist)
    commit = ""
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True, check=False
        ).stdout.strip()
    return {
        "cores": os.cpu_count(),
        "usable_cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "cpu_model": cpu_model,
        "memory_gb": round(memory_gb, 1),
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "versions": versions,
        "commit": commit,
        "when": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
    }


@dataclass
class Section:
    """One benchmark's outcome: its data (JSON) and its Markdown for RESULTS.md."""

    name: str
    title: str
    markdown: str
    data: dict[str, Any]
    plots: list[str] = field(default_factory=list)
    targets: list[Target] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "title": self.title,
            "markdown": self.markdown,
            "data": self.data,
            "plots": self.plots,
            "targets": [t.__dict__ for t in self.targets],
        }

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Section:
        return cls(
            name=raw["name"],
            title=raw["title"],
            markdown=raw["markdown"],
            data=raw["data"],
            plots=raw.get("plots", []),
            targets=[Target(**t) for t in raw.get("targets", [])],
        )


@dataclass
class Target:
    """A target and whether this run met it."""

    what: str
    goal: str
    measured: str
    met: bool


def save_json(path: Path, payload: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=2, sort_keys=False, default=str) + "\n")


@contextlib.contextmanager
def cpu_and_wall() -> Iterator[dict[str, float]]:
    """Measure the block's wall time and this process's CPU time (all threads), in seconds."""
    result: dict[str, float] = {}
    wall, cpu = time.perf_counter(), time.process_time()
    try:
        yield result
    finally:
        result["wall"] = time.perf_counter() - wall
        result["cpu"] = time.process_time() - cpu


# ---------------------------------------------------------------- processes (Linux /proc)


def parent_pid(pid: int) -> int:
    """The parent of ``pid`` (0 if it is gone)."""
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return 0


def cpu_ticks(pid: int) -> int:
    """User plus system CPU time of ``pid`` so far, in clock ticks (0 if it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0
    return int(fields[11]) + int(fields[12])


def processes() -> dict[int, tuple[int, list[str]]]:
    """Every process alive now, with its parent and the words of its command line (empty off Linux)."""
    found: dict[int, tuple[int, list[str]]] = {}
    proc_dir = Path("/proc")
    if not proc_dir.is_dir():
        return found
    for proc in proc_dir.iterdir():
        if not proc.name.isdigit():
            continue
        try:
            argv = (proc / "cmdline").read_bytes()
        except OSError:
            continue  # ended meanwhile
        pid = int(proc.name)
        found[pid] = (parent_pid(pid), [a.decode(errors="replace") for a in argv.split(b"\0") if a])
    return found
