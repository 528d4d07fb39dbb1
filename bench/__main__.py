"""``uv run python -m bench [--quick] [--only NAME,...] [--out DIR]``: run the benchmarks, write the results.

Each benchmark writes ``<out>/data/<name>.json``; ``<out>/RESULTS.md`` is then rendered from every
JSON file there, so one benchmark can be re-run alone without losing the others' results.
"""

from __future__ import annotations

import argparse
import importlib
import shutil
import sys
import tempfile
import time
import traceback
from pathlib import Path

from bench.common import RESULTS_DIR, machine_facts, progress, save_json, speed_probe
from bench.report import render

BENCHMARKS = {
    "fanout": "bench.fanout",
    "fanout_large": "bench.fanout_large",
    "e2e": "bench.e2e",
    "coldstart": "bench.coldstart",
    "history": "bench.history",
    "sizes": "bench.sizes",
    "profile": "bench.profile",
}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--quick",
        action="store_true",
        help=(
            "smaller sizes and fewer repeats, under 2 minutes (cold start: 3 rounds without warm-up, ours and the"
            " baseline only, package sizes from the installed packages)"
        ),
    )
    parser.add_argument("--only", default="", help=f"comma-separated subset of: {', '.join(BENCHMARKS)} (default: all)")
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="results folder (default bench/results, or bench/results/quick with --quick)",
    )
    parser.add_argument("--keep-work", action="store_true", help="keep the scratch folder (logs, databases)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    names = [n.strip() for n in args.only.split(",") if n.strip()] or list(BENCHMARKS)
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; choose from {', '.join(BENCHMARKS)}", file=sys.stderr)
        return 2
    out_dir: Path = args.out or (RESULTS_DIR / "quick" if args.quick else RESULTS_DIR)
    out_dir.mkdir(parents=True, exist_ok=True)
    work_dir = Path(tempfile.mkdtemp(prefix="chat-bench-", dir="/tmp"))
    facts = machine_facts()
    progress(
        f"bench: {', '.join(names)} ({'quick' if args.quick else 'full'}) on {facts['usable_cores']} cores,"
        f" Python {facts['python']}, load {facts['load_average']}; results in {out_dir}"
    )
    failed: list[str] = []
    started = time.monotonic()
    try:
        for name in names:
            progress(f"=== {name}")
            before = {**machine_facts(), "probe_ms": speed_probe()}
            began = time.monotonic()
            try:
                module = importlib.import_module(BENCHMARKS[name])
                section = module.run(args.quick, out_dir, work_dir / name)
            except Exception:
                traceback.print_exc()
                failed.append(name)
                progress(f"=== {name} FAILED (see the traceback above)")
                continue
            payload = section.to_json()
            payload["mode"] = "quick" if args.quick else "full"
            payload["seconds"] = round(time.monotonic() - began, 1)
            after = {"load_average_after": machine_facts()["load_average"], "probe_ms_after": speed_probe()}
            payload["machine"] = {**before, **after}
            save_json(out_dir / "data" / f"{name}.json", payload)
            progress(f"=== {name} done in {payload['seconds']} s")
    finally:
        if args.keep_work:
            progress(f"scratch folder kept: {work_dir}")
        else:
            shutil.rmtree(work_dir, ignore_errors=True)
    report = render(out_dir)
    progress(f"wrote {report} in {time.monotonic() - started:.0f} s")
    if failed:
        progress(f"failed: {', '.join(failed)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
