"""Token buckets as API Gateway throttles: burst at once, then the rate; the account's limits."""

from __future__ import annotations

from chat_local.spec import Throttle
from chat_local.throttle import ACCOUNT, NEW_CONNECTIONS, Bucket, Throttles, bucket


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_bucket_passes_its_burst_then_its_rate() -> None:
    """Burst 3, rate 2: three at once, then one every half second."""
    clock = Clock()
    tokens = Bucket(rate=2, burst=3, clock=clock)
    assert [tokens.take() for _ in range(4)] == [True, True, True, False]
    clock.now = 0.5
    assert [tokens.take(), tokens.take()] == [True, False]
    clock.now = 100
    assert sum(tokens.take() for _ in range(10)) == 3  # never more than the burst


def test_the_accounts_limits_are_api_gateways_quotas() -> None:
    """10,000 requests a second (burst 5,000) for the account; 500 new WebSocket connections a second."""
    assert (ACCOUNT.rate, ACCOUNT.burst) == (10_000, 5_000)
    assert (NEW_CONNECTIONS.rate, NEW_CONNECTIONS.burst) == (500, 500)
    clock = Clock()
    connections = bucket(NEW_CONNECTIONS, clock)
    assert connections is not None
    assert sum(connections.take() for _ in range(600)) == 500
    clock.now = 0.01
    assert sum(connections.take() for _ in range(10)) == 5


def test_routes_have_their_own_buckets_and_share_the_accounts() -> None:
    """A throttled route does not slow another; the account bucket counts every route; no limit: none here."""
    clock = Clock()
    account = Bucket(rate=1, burst=3, clock=clock)
    throttles = Throttles({"a": Throttle(rate=1, burst=1), "b": Throttle()}, account, clock)
    assert (throttles.admit("a"), throttles.admit("a")) == (True, False)
    assert (throttles.admit("b"), throttles.admit("b"), throttles.admit("b")) == (True, True, False)
    assert bucket(Throttle()) is None
