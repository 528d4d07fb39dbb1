"""The scheduled sweep for connections API Gateway dropped without a ``$disconnect``."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from chatcore.broadcaster import Delivery
from chatcore.fanout import Fanout

DEFAULT_STALE_AFTER_SECONDS = 300
DEFAULT_PAGE_SIZE = 100
DEFAULT_MAX_CHECKS = 2000


@dataclass(frozen=True, slots=True)
class PruneReport:
    checked: int
    removed: int
    alive: int
    unknown: int
    complete: bool
    """False when the run stopped at its bound with more stale connections left for the next run."""


class Pruner:
    """Finds connections not seen for a while, asks API Gateway about each, forgets the gone ones.

    Cleanup is exactly the broadcaster's on ``GoneException``: items deleted, ``member_left`` to each
    room where that was the user's last connection. A run reads at most ``max_checks`` connections, a
    page at a time, so it finishes well inside the function's timeout however many there are.
    """

    def __init__(
        self,
        fanout: Fanout,
        *,
        stale_after_seconds: float = DEFAULT_STALE_AFTER_SECONDS,
        page_size: int = DEFAULT_PAGE_SIZE,
        max_checks: int = DEFAULT_MAX_CHECKS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._registry = fanout.registry
        self._broadcaster = fanout.broadcaster
        self._fanout = fanout
        self._stale_after = stale_after_seconds
        self._page_size = page_size
        self._max_checks = max_checks
        self._clock = clock

    def run(self) -> PruneReport:
        cutoff_ms = int((self._clock() - self._stale_after) * 1000)
        checked = removed = alive = unknown = 0
        start_key = None
        while True:
            page, start_key = self._registry.stale_connections(
                cutoff_ms, page_size=min(self._page_size, self._max_checks - checked), start_key=start_key
            )
            gone: list[str] = []
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
            if gone:
                self._fanout.forget_connections(gone)
                removed += len(gone)
            if not start_key or checked >= self._max_checks:
                return PruneReport(checked, removed, alive, unknown, complete=not start_key)
