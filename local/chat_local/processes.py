"""Helpers for the child processes of the local stack, and for running the stack itself as a child."""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Self

_PR_SET_PDEATHSIG = 1


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def die_with_parent() -> None:
    """``preexec_fn`` for children: the kernel stops them (SIGINT) if the parent dies without doing so.

    Linux ties this to the *thread* that started the child: start children from a thread that lives
    as long as they should (the main thread), never from a pool worker.
    """
    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGINT)


def end_process(process: subprocess.Popen[Any], sig: int, timeout: float, *, kill_wait: float = 5.0) -> None:
    """Send ``sig`` and wait up to ``timeout`` for the child to exit, then SIGKILL it: gone on return."""
    if process.poll() is not None:
        return
    process.send_signal(sig)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(kill_wait)


class ReadyProcess:
    """A child server that prints ``ready: <url>`` on stdout once it serves (as ``chat-local`` does).

    Its stderr and everything else it prints go to ``log_path``: stdout is drained all along (the
    functions' JSON logs go there), since a full pipe would block the child. Stopped with SIGTERM, as a
    service manager would. Tests and benchmarks run the local stack through it, the way a user does.
    """

    def __init__(
        self,
        args: Sequence[str],
        *,
        env: dict[str, str] | None = None,
        log_path: Path,
        cwd: Path | None = None,
    ) -> None:
        self.args = list(args)
        self.env = {**os.environ, **(env or {})}
        self.log_path = log_path
        self.cwd = cwd
        self.process: subprocess.Popen[str] | None = None
        self.url = ""

    def start(self, timeout: float = 120.0) -> Self:
        """Start the child and wait for its ready line; raises with the log's tail if it never comes."""
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("a") as log:
            self.process = subprocess.Popen(  # noqa: S603 - the caller's own command
                self.args, stdout=subprocess.PIPE, stderr=log, text=True, env=self.env, cwd=self.cwd
            )
        ready: list[str] = []
        got_ready = threading.Event()
        stdout = self.process.stdout
        assert stdout is not None

        def read_stdout() -> None:
            with self.log_path.open("a") as sink, stdout:
                for line in stdout:
                    if not ready and line.startswith("ready: "):
                        ready.append(line.split(" ", 1)[1].strip())
                        got_ready.set()
                    sink.write(line)
                    sink.flush()
            got_ready.set()  # the child is gone: stop waiting

        threading.Thread(target=read_stdout, daemon=True).start()
        got_ready.wait(timeout)
        if not ready:
            self.stop()
            raise RuntimeError(f"{Path(self.args[0]).name} did not get ready; log:\n{self.log_tail()}")
        self.url = ready[0]
        return self

    def stop(self, timeout: float = 30.0) -> int | None:
        """SIGTERM, then SIGKILL after ``timeout``; returns the exit code."""
        process, self.process = self.process, None
        if process is None:
            return None
        end_process(process, signal.SIGTERM, timeout, kill_wait=10)
        return process.returncode

    def log_tail(self, chars: int = 4000) -> str:
        return self.log_path.read_text(errors="replace")[-chars:] if self.log_path.exists() else ""

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()
