"""The prune sweep over moto's DynamoDB and Management API, faking only GET answers moto cannot give.

moto's ``get_connection`` answers 200 for any id (it creates the connection on the spot), so the suite's
one Management API fake answers 410 for chosen ids.
"""

from __future__ import annotations

import time
from collections import Counter
from typing import Any, cast

import pytest
from botocore.exceptions import ClientError
from chatcore.aws.broadcaster import Broadcaster
from chatcore.aws.registry import ConnectionRegistry
from chatcore.service.fanout import Fanout
from chatcore.service.prune import Pruner, PruneReport

from tests.conftest import TABLE, ManagementFake, delivered
from tests.helpers.records import stored_connection

STALE_AFTER = 300.0


@pytest.fixture
def fanout(registry: ConnectionRegistry, management: ManagementFake) -> Fanout:
    return Fanout(registry, Broadcaster(cast(Any, management), max_workers=4))  # a stand-in for boto3's client


def _connect(
    dynamodb: Any, connection_id: str, user_id: int, *rooms: int, quiet_for: float = 0.0, contacts: tuple[int, ...] = ()
) -> None:
    """Register a connection last seen ``quiet_for`` seconds ago, subscribed to ``rooms``."""
    registry = ConnectionRegistry(dynamodb, TABLE, clock=lambda: time.time() - quiet_for)
    record = registry.add_connection(connection_id, user_id, f"user{user_id}", audience=contacts).record
    for room in rooms:
        registry.subscribe(record, room)


def test_gone_stale_connections_are_removed_and_live_ones_kept(
    fanout: Fanout, management: ManagementFake, registry: ConnectionRegistry, dynamodb: Any
) -> None:
    """Quiet connections answering 410 are forgotten (contacts told); live quiet ones touched; fresh ones skipped."""
    _connect(dynamodb, "dead", 1, 5, quiet_for=900, contacts=(2, 3))
    _connect(dynamodb, "quiet", 2, 5, quiet_for=900)
    _connect(dynamodb, "fresh", 3, 5)
    management.gone = {"dead"}
    before = time.time() * 1000

    report = Pruner(fanout, stale_after_seconds=STALE_AFTER).run()

    assert report == PruneReport(checked=2, removed=1, alive=1, unknown=0, read=9, complete=True)
    assert stored_connection(registry, "dead") is None
    assert sorted(c.connection_id for c in registry.room_connections(5)) == ["fresh", "quiet"]
    assert [f for f in delivered("fresh") if f["type"] == "presence"] == [
        {"type": "presence", "user": "user1", "online": False}
    ]
    quiet = stored_connection(registry, "quiet")
    assert quiet is not None and quiet.last_seen >= before  # touched: not asked again next run
    assert management.probed == Counter({"dead": 1, "quiet": 1})  # the fresh one was never probed

    assert Pruner(fanout, stale_after_seconds=STALE_AFTER).run() == PruneReport(0, 0, 0, 0, read=6, complete=True)


def test_unanswered_probe_keeps_the_connection_for_next_time(
    fanout: Fanout, management: ManagementFake, registry: ConnectionRegistry, dynamodb: Any
) -> None:
    """A probe that fails (500) counts as unknown: the connection is neither removed nor touched."""
    _connect(dynamodb, "c1", 1, 5, quiet_for=900)
    failure: Any = {"Error": {"Code": "InternalServerError"}, "ResponseMetadata": {"HTTPStatusCode": 500}}
    management.errors = {"c1": ClientError(failure, "GetConnection")}
    report = Pruner(fanout, stale_after_seconds=STALE_AFTER).run()
    assert report == PruneReport(checked=1, removed=0, alive=0, unknown=1, read=3, complete=True)
    record = stored_connection(registry, "c1")
    assert record is not None and record.last_seen < (time.time() - 600) * 1000


def test_a_run_is_bounded_and_the_next_runs_carry_on(
    fanout: Fanout, management: ManagementFake, registry: ConnectionRegistry, dynamodb: Any
) -> None:
    """A run stops after max_reads with complete=False; later runs carry on where it stopped, each probed once."""
    for i in range(5):
        _connect(dynamodb, f"c{i}", i, quiet_for=900)
    management.gone = {"c1", "c3"}
    pruner = Pruner(fanout, stale_after_seconds=STALE_AFTER, page_size=2, max_reads=2)

    first = pruner.run()
    assert (first.checked, first.read, first.complete) == (2, 2, False)
    reports = [first]
    for _ in range(10):
        if reports[-1].complete:
            break
        reports.append(pruner.run())
    assert reports[-1].complete
    assert sum(r.removed for r in reports) == 2
    assert sum(r.alive for r in reports) == 3
    assert management.probed == Counter({f"c{i}": 1 for i in range(5)})
    assert sorted(c for c in (f"c{i}" for i in range(5)) if stored_connection(registry, c)) == ["c0", "c2", "c4"]


def test_a_run_never_reads_more_than_max_reads(fanout: Fanout, management: ManagementFake, dynamodb: Any) -> None:
    """max_reads bounds the items one run reads (and so probes) even when it is not a multiple of the page size."""
    for i in range(6):
        _connect(dynamodb, f"c{i}", i, quiet_for=900)
    report = Pruner(fanout, stale_after_seconds=STALE_AFTER, page_size=2, max_reads=3).run()
    assert report.read == 3
    assert report.checked <= 3
    assert sum(management.probed.values()) <= 3


def test_a_table_of_mostly_subscriptions_costs_no_more_reads_per_run(
    fanout: Fanout, management: ManagementFake, registry: ConnectionRegistry, dynamodb: Any
) -> None:
    """Subscriptions count against the bound too, so a run reads at most max_reads items; runs still finish."""
    _connect(dynamodb, "dead-1", 1, *range(1, 40), quiet_for=900)
    _connect(dynamodb, "dead-2", 2, *range(40, 79), quiet_for=900)  # rooms of its own: found by the sweep
    management.gone = {"dead-1", "dead-2"}
    scans: list[int] = []
    dynamodb.meta.events.register("after-call.dynamodb.Scan", lambda parsed, **_: scans.append(parsed["ScannedCount"]))
    pruner = Pruner(fanout, stale_after_seconds=STALE_AFTER, page_size=10, max_reads=25)

    reports = [pruner.run()]
    while not reports[-1].complete and len(reports) < 10:
        reports.append(pruner.run())

    assert reports[0].read <= 25 and not reports[0].complete
    assert all(r.read <= 25 for r in reports)
    assert sum(scans) == sum(r.read for r in reports)  # the report counts what DynamoDB read
    assert reports[-1].complete
    assert sum(r.removed for r in reports) == 2
    assert stored_connection(registry, "dead-1") is None and stored_connection(registry, "dead-2") is None
