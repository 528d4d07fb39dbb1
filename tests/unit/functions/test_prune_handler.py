"""``functions/prune``: the real handler module on moto, invoked with the schedule's event."""

from __future__ import annotations

import time
from typing import Any

import pytest
from chatcore.aws.registry import ConnectionRegistry

from tests.conftest import TABLE
from tests.helpers.events import load_event
from tests.helpers.records import stored_connection
from tests.unit.functions.conftest import Logs
from tests.unit.functions.ws_support import configure, fresh_handler, invoke


def test_prune_checks_quiet_connections_and_returns_its_report(
    monkeypatch: pytest.MonkeyPatch, dynamodb: Any, registry: ConnectionRegistry, logs: Logs
) -> None:
    """The scheduled run probes connections quiet for longer than PRUNE_STALE_AFTER_SECONDS and reports."""
    configure(monkeypatch, None)  # no database needed
    monkeypatch.setenv("PRUNE_STALE_AFTER_SECONDS", "120")
    quiet = ConnectionRegistry(dynamodb, TABLE, clock=lambda: time.time() - 600)
    for connection_id in ("quiet-1=", "quiet-2="):
        quiet.add_connection(connection_id, 1, "alice")
    registry.add_connection("fresh=", 2, "bob")

    report = invoke(fresh_handler("prune"), "prune", load_event("schedule"))

    # moto answers every GET /@connections/{id}: both quiet connections are alive (the 410 path is in test_prune)
    assert report == {"checked": 2, "removed": 0, "alive": 2, "unknown": 0, "read": 5, "complete": True}
    for connection_id in ("quiet-1=", "quiet-2="):
        record = stored_connection(registry, connection_id)
        assert record is not None and record.last_seen > (time.time() - 60) * 1000  # touched
    finished = next(line for line in logs() if line.get("message") == "prune finished")
    assert (finished["checked"], finished["removed"], finished["complete"]) == (2, 0, True)
