"""Running ``chat-local`` as a child process, the way a user does, and waiting for its ready line."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

CHAT_LOCAL = Path(sys.executable).parent / "chat-local"


class StackProcess:
    def __init__(self, data_dir: Path, *args: str, env: dict[str, str] | None = None, log_path: Path) -> None:
        self.data_dir = data_dir
        self.args = list(args)
        self.env = {**os.environ, **(env or {})}
        self.log_path = log_path
        self.process: subprocess.Popen[str] | None = None
        self.url = ""

    @property
    def ws_url(self) -> str:
        return self.url.replace("http://", "ws://") + "/ws"

    @property
    def api_url(self) -> str:
        return self.url + "/api"

    def start(self, timeout: float = 90.0) -> StackProcess:
        log = self.log_path.open("a")
        self.process = subprocess.Popen(
            # --port 0 picks a free port unless the test asked for one (a later --port wins).
            [str(CHAT_LOCAL), "--port", "0", "--data-dir", str(self.data_dir), *self.args],
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
            env=self.env,
        )
        log.close()
        ready: list[str] = []
        got_ready = threading.Event()

        stdout = self.process.stdout
        assert stdout is not None

        def read_stdout() -> None:
            # Keep draining stdout (the functions' JSON logs go there): a full pipe would block them.
            with self.log_path.open("a") as sink, stdout:
                for line in stdout:
                    if not ready and line.startswith("ready: "):
                        ready.append(line.split(" ", 1)[1].strip())
                        got_ready.set()
                    sink.write(line)
                    sink.flush()

        threading.Thread(target=read_stdout, daemon=True).start()
        got_ready.wait(timeout)
        if not ready:
            self.stop()
            raise RuntimeError(f"chat-local did not get ready; log:\n{self.log_tail()}")
        self.url = ready[0]
        return self

    def stop(self, timeout: float = 30.0) -> int | None:
        """SIGTERM, as a service manager would; returns the exit code."""
        process, self.process = self.process, None
        if process is None:
            return None
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)
        return process.returncode

    def log_tail(self, chars: int = 4000) -> str:
        return self.log_path.read_text(errors="replace")[-chars:] if self.log_path.exists() else ""


def wait_until(predicate, timeout: float = 10.0, interval: float = 0.05) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return bool(predicate())
