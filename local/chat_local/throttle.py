"""API Gateway's throttling: token buckets for routes, the account, and new WebSocket connections.

API Gateway "throttles requests to your API using the token bucket algorithm, where a token counts for a
request" (Protect your WebSocket APIs in API Gateway, and the same page for HTTP APIs): a bucket holds at
most ``burst`` tokens and refills at ``rate`` per second. A route has its stage's ``DefaultRouteSettings``
(or its own ``RouteSettings``); every request also takes a token from the account's bucket for the region
(10,000 per second, burst 5,000), and every new WebSocket connection one from the account's 500 new
connections per second (quotas for configuring and running a WebSocket API).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from chat_local.spec import Throttle

#: The account-level limits for the region (Amazon API Gateway quotas: throttle quota per account).
ACCOUNT = Throttle(rate=10_000.0, burst=5_000)
#: New connections per second per account across all WebSocket APIs of a region (not burstable past it).
NEW_CONNECTIONS = Throttle(rate=500.0, burst=500)


@dataclass
class Bucket:
    """A token bucket; ``take`` answers whether a request may pass (and takes its token)."""

    rate: float
    burst: float
    clock: Callable[[], float] = time.monotonic
    tokens: float = field(init=False)
    updated: float = field(init=False)

    def __post_init__(self) -> None:
        self.tokens = self.burst
        self.updated = self.clock()

    def take(self) -> bool:
        now = self.clock()
        refill = self.burst if self.rate == float("inf") else (now - self.updated) * self.rate
        self.tokens = min(self.burst, self.tokens + refill)
        self.updated = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


def bucket(throttle: Throttle, clock: Callable[[], float] = time.monotonic) -> Bucket | None:
    """The bucket of ``throttle``; None when it sets no limit. A burst of 0 refuses everything, as in AWS."""
    if not throttle.limited:
        return None
    rate = throttle.rate if throttle.rate is not None else float("inf")
    burst = throttle.burst if throttle.burst is not None else max(1.0, rate)
    return Bucket(rate=rate, burst=float(burst), clock=clock)


class Throttles:
    """The buckets of one API: one per route, and the account's shared by every API of the stack."""

    def __init__(self, routes: dict[str, Throttle], account: Bucket, clock: Callable[[], float] = time.monotonic):
        self._routes = {key: bucket(throttle, clock) for key, throttle in routes.items()}
        self._account = account

    def admit(self, route: str) -> bool:
        """Whether a request to ``route`` passes its route's bucket and then the account's."""
        route_bucket = self._routes.get(route)
        if route_bucket is not None and not route_bucket.take():
            return False
        return self._account.take()
