"""Benchmark 3, cold start: importing each function's ``handler.py`` in a fresh interpreter.

For every ``functions/*/handler.py`` (as Lambda does: the function folder on ``sys.path``, then
``import handler``), and for ``python -c "import boto3"`` and an empty ``python -c pass``, the wall time of
the whole child process is measured, repeats interleaved, median reported. The target compares each
handler with the bare boto3 import (both include the same interpreter start-up).

Because lazy imports move work from import to the first call, the ``connect`` and ``message`` handlers
are also timed through their first invocation in the fresh interpreter (``connect`` without a token:
answered 401 before any I/O; ``message`` with a malformed frame: answered with an ``error`` frame
posted to a stub Management API in this process), so what a user waits for on a cold start is shown too.
``python -X importtime`` gives the biggest imports of each handler.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from bench.common import LOCAL_AWS_ENV, REPO_ROOT, Section, Target, fmt, md_table, median, progress

FUNCTIONS_DIR = REPO_ROOT / "functions"
TARGET_RATIO = 1.5
#: Functions left out: ``migrate`` runs once per deployment, not on the request path.
SKIPPED = frozenset({"migrate"})

_IMPORT = "import sys; sys.path.insert(0, {folder!r}); import handler"

_FIRST_CALL = """
import json, sys, time
started = time.perf_counter()
sys.path.insert(0, {folder!r})
import handler
imported = time.perf_counter()

class Context:
    function_name = {name!r}
    function_version = "$LATEST"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:us-east-1:000000000000:function:" + {name!r}
    aws_request_id = "00000000-0000-0000-0000-000000000000"
    log_group_name = "/aws/lambda/" + {name!r}
    log_stream_name = "bench"
    def get_remaining_time_in_millis(self):
        return 30000

result = handler.handler(json.loads({event!r}), Context())
called = time.perf_counter()
print(json.dumps({{"import": imported - started, "call": called - imported, "result": result}}))
"""


def handler_names() -> list[str]:
    return sorted(p.parent.name for p in FUNCTIONS_DIR.glob("*/handler.py") if p.parent.name not in SKIPPED)


def _child_env(management_url: str) -> dict[str, str]:
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith(("POWERTOOLS_", "AWS_ENDPOINT_URL"))}
    env.update(LOCAL_AWS_ENV)
    env.update(
        {
            "CONNECTIONS_TABLE": "bench-connections",
            "MANAGEMENT_API_URL": management_url,
            # Never reached by the probes below (connect fails on the token, message on the frame).
            "DATABASE_URL": "postgresql://postgres@127.0.0.1:9/none",
            "AWS_ENDPOINT_URL_DYNAMODB": "http://127.0.0.1:9",
            "TOKEN_SECRET": "bench-token-secret-long-enough-0123456789abcdef",
            "POWERTOOLS_SERVICE_NAME": "chat",
            "POWERTOOLS_METRICS_NAMESPACE": "Chat",
            "POWERTOOLS_LOG_LEVEL": "ERROR",
            "PYTHONHASHSEED": "0",
        }
    )
    return env


def _wall(args: list[str], env: dict[str, str]) -> tuple[float, str]:
    started = time.perf_counter()
    done = subprocess.run(args, env=env, cwd=REPO_ROOT, capture_output=True, text=True, check=False)
    took = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args[:3])} failed:\n{done.stderr[-2000:]}")
    return took, done.stdout


@contextmanager
def stub_management_api() -> Iterator[str]:
    """A Management API that accepts every post (for the ``message`` handler's first call)."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("content-length", 0)))
            self.send_response(200)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *_args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _events() -> dict[str, str]:
    from chat_local.events import SocketInfo, connect_event, message_event

    info = SocketInfo("QmVuY2hDb25uZWN0aW9u", 1_700_000_000_000, "127.0.0.1", "bench", "localhost", "local")
    return {
        "connect": json.dumps(connect_event(info, {"Host": "localhost"}, {}, {})),
        "message": json.dumps(message_event(info, "$default", "not json")),
    }


def importtime_top(name: str, env: dict[str, str], count: int = 6) -> list[tuple[str, float]]:
    """The biggest top-level imports of ``name``'s handler (cumulative ms, from ``-X importtime``)."""
    folder = str(FUNCTIONS_DIR / name)
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", _IMPORT.format(folder=folder)],
        env=env,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    rows: list[tuple[str, float]] = []
    for line in done.stderr.splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        _, cumulative, module = line.split("|")
        if module.startswith("   ") and not module.startswith("    "):  # direct imports of the handler
            rows.append((module.strip(), int(cumulative) / 1000))
    rows.sort(key=lambda r: r[1], reverse=True)
    return rows[:count]


def run(quick: bool, out_dir: Path, work_dir: Path) -> Section:
    repeats = 3 if quick else 9
    names = handler_names()
    events = _events()
    with stub_management_api() as management_url:
        env = _child_env(management_url)
        probes: dict[str, list[str]] = {
            "python -c pass": [sys.executable, "-c", "pass"],
            "import boto3": [sys.executable, "-c", "import boto3"],
        }
        for name in names:
            probes[name] = [sys.executable, "-c", _IMPORT.format(folder=str(FUNCTIONS_DIR / name))]
        first_calls = {
            name: [
                sys.executable,
                "-c",
                _FIRST_CALL.format(folder=str(FUNCTIONS_DIR / name), name=name, event=events[name]),
            ]
            for name in ("connect", "message")
            if name in names
        }
        for args in [*probes.values(), *first_calls.values()]:  # bytecode caches written, files in page cache
            _wall(args, env)
        walls: dict[str, list[float]] = {label: [] for label in probes}
        calls: dict[str, list[dict[str, float]]] = {label: [] for label in first_calls}
        for repeat in range(repeats):
            for label, args in probes.items():
                walls[label].append(_wall(args, env)[0])
            for label, args in first_calls.items():
                took, out = _wall(args, env)
                parsed = json.loads(out.strip().splitlines()[-1])
                calls[label].append({"wall": took, "import": parsed["import"], "call": parsed["call"]})
                status = (parsed.get("result") or {}).get("statusCode")
                if status != {"connect": 401, "message": 200}[label]:
                    raise RuntimeError(f"{label} first call answered {parsed.get('result')}")
            progress(f"coldstart: round {repeat + 1}/{repeats}: boto3 {walls['import boto3'][-1] * 1000:.0f} ms")
        tops = {} if quick else {name: importtime_top(name, env) for name in names}
    medians = {label: median(values) * 1000 for label, values in walls.items()}
    call_medians = {
        label: {key: median([c[key] for c in values]) * 1000 for key in ("wall", "import", "call")}
        for label, values in calls.items()
    }
    plots = _plot(medians, call_medians, out_dir)
    return _section(medians, call_medians, tops, walls, repeats, plots, quick, out_dir)


def _section(
    medians: dict[str, float],
    calls: dict[str, dict[str, float]],
    tops: dict[str, list[tuple[str, float]]],
    walls: dict[str, list[float]],
    repeats: int,
    plots: list[str],
    quick: bool,
    out_dir: Path,
) -> Section:
    boto3_ms = medians["import boto3"]
    bare_ms = medians["python -c pass"]
    before = _before(out_dir)
    rows = []
    targets = []
    for label, value in medians.items():
        ratio = value / boto3_ms
        earlier = before.get(label)
        rows.append(
            [
                f"`{label}`" if label.startswith(("python", "import")) else f"`functions/{label}/handler.py`",
                fmt(value),
                fmt(value - bare_ms),
                fmt(ratio, 2) + "x",
                fmt(earlier, 1) if earlier else "",
                fmt(earlier / before["import boto3"], 2) + "x" if earlier and before.get("import boto3") else "",
            ]
        )
        if label not in ("import boto3", "python -c pass"):
            targets.append(
                Target(
                    f"cold import of {label} vs import boto3",
                    f"<= {TARGET_RATIO}x",
                    f"{ratio:.2f}x",
                    ratio <= TARGET_RATIO,
                )
            )
    table = md_table(
        [
            "fresh interpreter runs",
            "wall ms (median)",
            "minus bare interpreter",
            "vs import boto3",
            "before lazy imports: ms",
            "before: vs boto3",
        ],
        rows,
    )
    call_rows = [
        [f"`{label}`", fmt(v["import"]), fmt(v["call"]), fmt(v["wall"]), fmt(v["wall"] / boto3_ms, 2) + "x"]
        for label, v in calls.items()
    ]
    call_table = md_table(
        ["handler", "import ms", "first call ms", "process wall ms", "wall vs import boto3"], call_rows
    )
    top_rows = [
        [f"`{name}`", ", ".join(f"{module} {ms:.0f}" for module, ms in modules)] for name, modules in tops.items()
    ]
    top_table = md_table(["handler", "biggest direct imports (cumulative ms, one -X importtime run)"], top_rows)
    missed = [t.what.split(" of ")[1].split(" vs ")[0] for t in targets if not t.met]
    notes = []
    if missed:
        notes.append(
            f"Missed: {', '.join(f'`{m}`' for m in missed)}. `functions/rest/handler.py` is not this benchmark's"
            " to change (it belongs to the REST API's owner). Its import builds Powertools'"
            " `APIGatewayHttpResolver(enable_validation=True)` (which imports the event handler and its OpenAPI"
            " pydantic models) and the REST models at module level (see the biggest imports below). What would"
            " help, as done for the WebSocket handlers: build the resolver and register the routes inside a"
            " `functools.cache`d function the handler calls on its first invocation (the route functions can"
            " stay module-level and be registered there), so that the import is as cheap as theirs; the total"
            " cold start then changes little, as the table of first calls shows for `connect` and `message`."
        )
    markdown = "\n\n".join(
        [
            f"{repeats} interleaved runs of each (median). Wall time of the whole child process, so the"
            f" interpreter's own start-up ({fmt(bare_ms)} ms here) is in every number alike.",
            table,
            "Import plus the first invocation, in the same fresh interpreter (what a cold start costs in all):",
            call_table,
            *notes,
            *([top_table] if tops else []),
            *[f"![{p}]({p})" for p in plots],
        ]
    )
    return Section(
        name="coldstart",
        title="3. Cold start: importing the handlers",
        markdown=markdown,
        data={
            "medians_ms": medians,
            "first_call_ms": calls,
            "importtime_top": tops,
            "walls_s": walls,
            "quick": quick,
            "before_lazy_imports_ms": before,
        },
        plots=plots,
        targets=targets,
    )


def _before(out_dir: Path) -> dict[str, float]:
    """Medians recorded before the handlers' imports were made lazy (kept beside the results)."""
    path = out_dir / "coldstart-before.json"
    if not path.exists():
        path = REPO_ROOT / "bench" / "results" / "coldstart-before.json"
    if not path.exists():
        return {}
    raw = json.loads(path.read_text())
    return {k: float(v) for k, v in raw.get("medians_ms", {}).items()}


def _plot(medians: dict[str, float], calls: dict[str, dict[str, float]], out_dir: Path) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = list(medians)
    values = [medians[label] for label in labels]
    colors = ["#999999" if label in ("python -c pass", "import boto3") else "#3b75af" for label in labels]
    for label, call in calls.items():  # the first invocation too: lazy imports move work there
        labels.append(f"{label} + first call")
        values.append(call["wall"])
        colors.append("#9dc3e6")
    boto3_ms = medians["import boto3"]
    fig, ax = plt.subplots(figsize=(8, 4.4))
    ax.barh(labels, values, color=colors)
    ax.axvline(boto3_ms * TARGET_RATIO, color="#c44", linestyle="--", label=f"target: {TARGET_RATIO}x import boto3")
    ax.set_xlabel("fresh interpreter wall time (ms, median)")
    ax.invert_yaxis()
    ax.legend(loc="lower right")
    ax.grid(True, axis="x", alpha=0.3)
    fig.tight_layout()
    fig.savefig(out_dir / "coldstart.png", dpi=110)
    plt.close(fig)
    return ["coldstart.png"]
