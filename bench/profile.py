"""Benchmark 6, where the time goes: flame graphs of the gateway, the ``message`` handler and moto under load.

The local stack (``chat-local`` as a child process) gets a room of :data:`ROOM` connected clients, which
send :data:`RATE` messages a second in turn; after a warm-up, `py-spy <https://github.com/benfred/py-spy>`_
samples the gateway process, the busiest ``message`` container process (each warm container is a
process of its own) and moto's server for :data:`SECONDS` seconds at 100 Hz, without pausing them
(``--nonblocking``). It writes one SVG flame graph per process under ``bench/results/`` and a table of the
hottest functions (share of samples in which the function is the one running, and share in which it is on
the stack).

py-spy reads the other process's memory (ptrace rights: root, or ``kernel.yama.ptrace_scope`` 0); without
them, or without py-spy, the section says so instead of failing the run. ``--quick`` does not profile.
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from chat_local.processes import ReadyProcess

from bench.common import REPO_ROOT, Section, cpu_ticks, md_table, processes, progress
from bench.e2e import Load, create_room, register_users

ROOM = 50
RATE = 15.0
WARMUP_SECONDS = 4.0
SECONDS = 15.0
TOP = 12


def _py_spy() -> str | None:
    return shutil.which("py-spy", path=str(Path(sys.executable).parent)) or shutil.which("py-spy")


def stack_children(stack_pid: int, module: str) -> list[tuple[int, list[str]]]:
    """The processes the stack ``stack_pid`` started as ``python -m <module>``, with their command lines."""
    return [(pid, words) for pid, (parent, words) in processes().items() if parent == stack_pid and module in words]


def container_pids(function_dir: str, stack_pid: int) -> list[int]:
    """The pids of the warm containers the stack ``stack_pid`` runs for ``functions/<function_dir>``."""
    return [
        pid
        for pid, words in stack_children(stack_pid, "chat_local.worker")
        if any(w.rstrip("/").endswith(f"functions/{function_dir}") for w in words)
    ]


def hot_functions(collapsed: str, top: int = TOP) -> list[tuple[str, float, float]]:
    """From py-spy's ``raw`` output (``frame;frame;... count`` lines, root first): the ``top`` functions by
    share of samples in which they are the running (leaf) frame, each with its share on the stack too."""
    on_stack: Counter[str] = Counter()
    running: Counter[str] = Counter()
    total = 0
    for line in collapsed.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [f for f in stack.split(";") if f]
        if not frames:
            continue
        total += count
        running[frames[-1]] += count
        for frame in set(frames[1:] if frames[0].startswith("process ") else frames):
            on_stack[frame] += count
    if not total:
        return []
    # The frames that run most (self time) are the hot spots; ties go to the one more often on the stack.
    ranked = sorted(on_stack, key=lambda f: (running[f], on_stack[f]), reverse=True)
    return [(f, on_stack[f] / total, running[f] / total) for f in ranked[:top]]


def _record(py_spy: str, pid: int, svg: Path, seconds: float) -> subprocess.Popen[str]:
    kind = "flamegraph" if svg.suffix == ".svg" else "raw"
    command = [py_spy, "record", "--pid", str(pid), "--duration", str(int(seconds)), "--rate", "100"]
    return subprocess.Popen(
        [*command, "--nonblocking", "--format", kind, "--output", str(svg)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


async def _profile(py_spy: str, work_dir: Path, out_dir: Path) -> dict[str, Any]:
    chat_local = shutil.which("chat-local", path=str(Path(sys.executable).parent)) or "chat-local"
    log_path = work_dir / "chat-local.log"
    args = ["--port", "0", "--data-dir", str(work_dir / "data"), "--prune-interval", "3600"]
    progress("profile: starting chat-local")
    with ReadyProcess([chat_local, *args], log_path=log_path, cwd=REPO_ROOT) as stack:
        assert stack.process is not None
        api = stack.url + "/api"
        users = await asyncio.to_thread(register_users, api, ROOM)
        room = create_room(api, users[0]["token"], "profile room")
        ws = stack.url.replace("http://", "ws://") + "/ws"
        load = Load([f"{ws}?token={u['token']}" for u in users])
        await load.open()
        await load.join(room)
        count = int(RATE * (WARMUP_SECONDS + SECONDS + 2))
        progress(f"profile: {ROOM} clients joined; {RATE:.0f} messages/s, sampling after {WARMUP_SECONDS:.0f} s")
        sending = asyncio.create_task(load.send_schedule(room, count, load.clients, ROOM, "profile", 1.0 / RATE))
        await asyncio.sleep(WARMUP_SECONDS)  # pacing the load, not waiting for a result
        containers = container_pids("message", stack.process.pid)
        busiest = max(containers, key=cpu_ticks, default=None)
        moto = next((pid for pid, _ in stack_children(stack.process.pid, "chat_local.moto_server")), None)
        targets = {"gateway": stack.process.pid, **({"message": busiest} if busiest else {})}
        if moto is not None:
            targets["moto"] = moto
        recorders = []
        for name, pid in targets.items():
            for suffix in (".svg", ".txt"):
                recorders.append((name, suffix, _record(py_spy, pid, work_dir / f"flame-{name}{suffix}", SECONDS)))
        outputs = {}
        for name, suffix, recorder in recorders:
            out, _ = await asyncio.to_thread(recorder.communicate)
            outputs[(name, suffix)] = (recorder.returncode, out.strip().splitlines()[-1:] if out else [])
        run = await sending
        await load.close()
    result: dict[str, Any] = {"containers": len(containers), "delivered": run["delivered"], "lost": run["lost"]}
    result["p99_ms"] = run["p99_ms"]
    for name in targets:
        svg, raw = work_dir / f"flame-{name}.svg", work_dir / f"flame-{name}.txt"
        code, tail = outputs[(name, ".svg")]
        if code != 0 or not svg.exists():
            result[name] = {"error": " ".join(tail) or f"py-spy exited {code}"}
            continue
        shutil.copy(svg, out_dir / svg.name)
        hot = hot_functions(raw.read_text(errors="replace")) if raw.exists() else []
        result[name] = {"svg": svg.name, "hot": hot, "py_spy": " ".join(tail)}
    return result


def run(quick: bool, out_dir: Path, work_dir: Path) -> Section:
    work_dir.mkdir(parents=True, exist_ok=True)
    title = "6. Where the time goes: flame graphs under load"
    py_spy = _py_spy()
    if quick or py_spy is None:
        why = "not run with --quick" if quick else "py-spy is not installed (`uv sync` installs it)"
        return Section(name="profile", title=title, markdown=f"_{why}._", data={"skipped": why})
    started = time.monotonic()
    result = asyncio.run(_profile(py_spy, work_dir, out_dir))
    progress(f"profile: done in {time.monotonic() - started:.0f} s")
    parts = [
        f"A room of {ROOM} connected clients sending {RATE:.0f} messages a second in turn ({RATE * ROOM:,.0f}"
        f" deliveries a second); after {WARMUP_SECONDS:.0f} s, py-spy sampled each process for {SECONDS:.0f} s"
        f" at 100 Hz without pausing it. The `message` function had {result['containers']} warm containers;"
        " the busiest was sampled. Run: "
        f"{result['delivered']:,} deliveries, {result['lost']} lost, p99 {result['p99_ms']:,.0f} ms (the two"
        " py-spy processes take CPU from the same two cores, so this p99 is not section 2's). On a saturated"
        " machine a process waiting for a core is preempted as it leaves a system call, so *running* piles up"
        " in the calls it makes most (the gateway's socket writes): section 2's CPU per process is the cost.",
    ]
    plots = []
    processes_profiled = (
        ("gateway", "the gateway (API Gateway emulator)"),
        ("message", "a `message` container"),
        ("moto", "moto (DynamoDB and SQS)"),
    )
    for name, what in processes_profiled:
        entry = result.get(name)
        if not entry:
            continue
        if "error" in entry:
            parts.append(f"{what}: not profiled ({entry['error']}).")
            continue
        plots.append(entry["svg"])
        rows = [[f"`{frame}`", f"{share:.0%}", f"{leaf:.0%}"] for frame, share, leaf in entry["hot"]]
        parts += [
            f"**{what}** ([{entry['svg']}]({entry['svg']}), open it in a browser to zoom):",
            md_table(["function (file:line)", "on the stack", "running"], rows),
        ]
    return Section(name="profile", title=title, markdown="\n\n".join(parts), data=result, plots=plots)
