"""moto's DynamoDB as a real HTTP endpoint, in its own process (so it has a core of its own)."""

from __future__ import annotations

import http.client
import signal
import subprocess
import sys
import time

from chat_local.processes import die_with_parent, end_process, free_port


class MotoDynamoDB:
    """``moto_server`` on 127.0.0.1; every table lives in its memory until it stops."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> str:
        self.port = self.port or free_port()
        self._process = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
            [sys.executable, "-m", "chat_local.moto_server", "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=die_with_parent,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError("moto server exited during start")
            if self._answers():
                return self.endpoint
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"moto server not listening after {timeout}s")

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
