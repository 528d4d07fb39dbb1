"""The scheduled sweep for connections API Gateway dropped without a ``$disconnect``."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, NamedTuple

from chatcore.records import Delivery

if TYPE_CHECKING:
    from chatcore.service.fanout import Fanout

DEFAULT_STALE_AFTER_SECONDS = 300
DEFAULT_PAGE_SIZE = 100
DEFAULT_MAX_READS = 2000


class PruneReport(NamedTuple):
    checked: int
    """Stale connections asked about."""
    removed: int
    alive: int
    unknown: int
    read: int
    """Registry items read by the run's Scan (connections and subscriptions alike)."""
    complete: bool
    """True when the sweep reached the end of the table; False when it stopped at its bound and the next
    run continues where this one stopped."""


class Pruner:
    """Finds connections not seen for a while, asks API Gateway about each, forgets the gone ones.

    Cleanup is exactly the broadcaster's on ``GoneException``: items deleted, ``member_left`` to each
    room where that was the user's last connection. A run reads at most ``max_reads`` registry items, a
    page of at most ``page_size`` at a time, so it finishes well inside the function's timeout however
    large the table is; it keeps its place in the registry, so consecutive runs sweep the whole table.
    """

    def __init__(
        self,
        fanout: Fanout,
        *,
        stale_after_seconds: float = DEFAULT_STALE_AFTER_SECONDS,
        page_size: int = DEFAULT_PAGE_SIZE,
        max_reads: int = DEFAULT_MAX_READS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._registry = fanout.registry
        self._broadcaster = fanout.broadcaster
        self._fanout = fanout
        self._stale_after = stale_after_seconds
        self._page_size = page_size
        self._max_reads = max_reads
        self._clock = clock

    def run(self) -> PruneReport:
        cutoff_ms = int((self._clock() - self._stale_after) * 1000)
        checked = alive = unknown = read = 0
        cursor = self._registry.prune_cursor()
        gone: list[str] = []
        while True:
            page, cursor, scanned = self._registry.stale_connections(
                cutoff_ms, max_reads=min(self._page_size, self._max_reads - read), start_key=cursor
            )
            read += scanned
            for record in page:
                checked += 1
                outcome = self._broadcaster.probe(record.connection_id)
                if outcome is Delivery.GONE:
                    gone.append(record.connection_id)
                elif outcome is Delivery.DELIVERED:
                    alive += 1
                    # Still there, just quiet: no need to ask again until it has been quiet again.
                    self._registry.touch(record.connection_id)
                else:
                    unknown += 1
            if cursor is None or read >= self._max_reads or scanned == 0:
                break
        # Forgotten after the sweep, not during it: the Scan continues from a key that must still exist.
        self._fanout.forget_connections(gone)
        self._registry.save_prune_cursor(cursor)
        return PruneReport(checked, len(gone), alive, unknown, read, complete=cursor is None)
