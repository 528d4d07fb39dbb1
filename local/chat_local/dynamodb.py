"""moto's DynamoDB as a real HTTP endpoint, in its own process (so it has a core of its own)."""

from __future__ import annotations

import http.client
import signal
import subprocess
import sys
import tempfile
import time
from typing import IO

from chat_local.processes import die_with_parent, end_process, free_port


class MotoDynamoDB:
    """``moto_server`` on 127.0.0.1; every table lives in its memory until it stops."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port
        self._process: subprocess.Popen[bytes] | None = None
        self._stderr: IO[bytes] | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> str:
        """Start the server and wait until it answers; its endpoint. A port picked here that another process
        takes before moto binds it (``free_port`` can only say it was free) is replaced, up to three times."""
        picked = self.port is None
        attempt = 1
        while True:
            if picked:
                self.port = free_port()
            try:
                return self._start(timeout)
            except _ExitedDuringStart as exc:
                if not picked or attempt == 3 or not exc.port_taken:
                    raise
            attempt += 1

    def _start(self, timeout: float) -> str:
        # What moto says goes to a file that cannot fill up as a pipe would; read when it fails to start.
        self._stderr = tempfile.NamedTemporaryFile(prefix="moto-", suffix=".log")  # noqa: SIM115 - kept open
        self._process = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
            [sys.executable, "-m", "chat_local.moto_server", "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=subprocess.DEVNULL,
            stderr=self._stderr,
            preexec_fn=die_with_parent,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            code = self._process.poll()
            if code is not None:
                said = self._said()
                self._process = None
                raise _ExitedDuringStart(
                    f"moto server exited during start (code {code}) on port {self.port}: {said or 'no output'}",
                    port_taken="Address already in use" in said,
                )
            if self._answers():
                return self.endpoint
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"moto server not listening after {timeout}s")

    def _said(self) -> str:
        """The last lines moto wrote to stderr (its traceback, when it failed)."""
        if self._stderr is None:
            return ""
        self._stderr.seek(0)
        lines = self._stderr.read().decode(errors="replace").strip().splitlines()
        self._stderr.close()
        self._stderr = None
        return " | ".join(lines[-3:])

    def _answers(self) -> bool:
        """Whether an HTTP server answers on the port (any status): a listening socket alone could be another
        process's, or a server that has not finished starting."""
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
        try:
            connection.request("GET", "/moto-api/ready")
            connection.getresponse().read()
        except (OSError, http.client.HTTPException):
            return False
        finally:
            connection.close()
        return self._process is not None and self._process.poll() is None

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is not None:
            end_process(process, signal.SIGTERM, 5)
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None


class _ExitedDuringStart(RuntimeError):
    def __init__(self, message: str, *, port_taken: bool) -> None:
        super().__init__(message)
        self.port_taken = port_taken
