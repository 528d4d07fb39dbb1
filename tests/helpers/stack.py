"""Running ``chat-local`` as a child process, the way a user does, and waiting for its ready line."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from chat_local.processes import ReadyProcess

CHAT_LOCAL = Path(sys.executable).parent / "chat-local"


class StackProcess(ReadyProcess):
    """``chat-local`` on a free port (unless ``args`` name one) over ``data_dir``."""

    def __init__(self, data_dir: Path, *args: str, env: dict[str, str] | None = None, log_path: Path) -> None:
        # --port 0 picks a free port unless the test asked for one (a later --port wins).
        super().__init__(
            [str(CHAT_LOCAL), "--port", "0", "--data-dir", str(data_dir), *args], env=env, log_path=log_path
        )
        self.data_dir = data_dir

    @property
    def ws_url(self) -> str:
        return self.url.replace("http://", "ws://") + "/ws"

    @property
    def api_url(self) -> str:
        return self.url + "/api"

    def start(self, timeout: float = 90.0) -> StackProcess:
        return super().start(timeout)


def wait_until(predicate, timeout: float = 10.0, interval: float = 0.05) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return bool(predicate())
