"""The one log reader of the handler tests: what a function printed, as Powertools' JSON lines."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import Any

import pytest
from chatcore.observability import logger

Logs = Callable[[], list[dict[str, Any]]]


class _CurrentStdout:
    """Writes to whatever ``sys.stdout`` is at the time (capsys swaps it between test phases)."""

    def write(self, text: str) -> int:
        return sys.stdout.write(text)

    def flush(self) -> None:
        sys.stdout.flush()


@pytest.fixture
def logs(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Logs:
    """A reader of what the function printed, each line parsed as JSON (a non-JSON line fails the test).

    Powertools' logger keeps the ``sys.stdout`` it saw at import, before capsys replaced it, so its
    handler is pointed at the current stdout for this test.
    """
    monkeypatch.setattr(logger.logger_handler, "stream", _CurrentStdout())

    def read() -> list[dict[str, Any]]:
        captured = capsys.readouterr().out
        return [json.loads(line) for line in captured.splitlines() if line.strip()]

    return read
