"""The Management API broadcaster over moto, faking only what moto cannot do (410 and other errors)."""

from __future__ import annotations

import threading
import time
from typing import Any, cast

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError
from chatcore.aws.broadcaster import Broadcaster
from chatcore.ports import BroadcastResult, Delivery

from tests.conftest import GoneAwareClient, delivered

PAYLOAD = b'{"type":"pong","ts":1}'


def client_error(code: str, status: int, operation: str = "PostToConnection") -> ClientError:
    response: Any = {"Error": {"Code": code, "Message": code}, "ResponseMetadata": {"HTTPStatusCode": status}}
    return ClientError(response, operation)


class FaultyClient(GoneAwareClient):
    """moto's Management API, except that ids in ``gone`` answer 410 and ids in ``errors`` raise that error.

    moto accepts any id for POST and GET and never fails; these are the paths faked.
    """

    def __init__(self, real: Any) -> None:
        super().__init__(real)
        self.errors: dict[str, BaseException] = {}

    def post_to_connection(self, *, ConnectionId: str, Data: bytes) -> Any:
        if ConnectionId in self.errors:
            raise self.errors[ConnectionId]
        return super().post_to_connection(ConnectionId=ConnectionId, Data=Data)

    def get_connection(self, *, ConnectionId: str) -> Any:
        if ConnectionId in self.gone:
            raise self.exceptions.GoneException(
                {"Error": {"Code": "GoneException", "Message": "gone"}, "ResponseMetadata": {"HTTPStatusCode": 410}},
                "GetConnection",
            )
        if ConnectionId in self.errors:
            raise self.errors[ConnectionId]
        return self._real.get_connection(ConnectionId=ConnectionId)


def make_broadcaster(client: FaultyClient, max_workers: int = 8) -> Broadcaster:
    return Broadcaster(cast(Any, client), max_workers)  # a stand-in for boto3's client


@pytest.fixture
def faulty(management: GoneAwareClient) -> FaultyClient:
    return FaultyClient(management._real)


def test_broadcast_delivers_to_every_connection(faulty: FaultyClient) -> None:
    """Every connection given receives the payload once; the result lists them all as delivered."""
    targets = [f"c{i}" for i in range(10)]
    result = make_broadcaster(faulty, 4).broadcast(targets, PAYLOAD)
    assert sorted(result.delivered) == sorted(targets)
    assert (result.gone, result.failed) == ([], [])
    for connection_id in targets:
        assert delivered(connection_id) == [{"type": "pong", "ts": 1}]


@pytest.mark.parametrize("targets", [["a", "a"], ["a", "b", "a", "b", "a"]], ids=["one-id", "two-ids"])
def test_duplicate_ids_are_posted_once(faulty: FaultyClient, targets: list[str]) -> None:
    """A connection listed twice is attempted and delivered exactly once."""
    result = make_broadcaster(faulty).broadcast(targets, PAYLOAD)
    assert sorted(result.delivered) == sorted(set(targets))
    for connection_id in set(targets):
        assert len(delivered(connection_id)) == 1


def test_empty_broadcast_posts_nothing(faulty: FaultyClient) -> None:
    """No connections means no posts and an empty result."""
    assert make_broadcaster(faulty).broadcast([], PAYLOAD) == BroadcastResult()


@pytest.mark.parametrize("size", [1, 5], ids=["single", "many"])
def test_gone_connections_are_reported_and_the_others_still_delivered(faulty: FaultyClient, size: int) -> None:
    """A 410 lands in ``gone`` and stops nobody else, with one recipient or many."""
    faulty.gone = {"dead"}
    targets = ["dead", *[f"live{i}" for i in range(size - 1)]]
    result = make_broadcaster(faulty).broadcast(targets, PAYLOAD)
    assert result.gone == ["dead"]
    assert sorted(result.delivered) == sorted(targets[1:])
    assert result.failed == []
    assert delivered("dead") == []
    assert all(len(delivered(t)) == 1 for t in targets[1:])


@pytest.mark.parametrize(
    "error",
    [
        pytest.param(client_error("LimitExceededException", 429), id="throttled"),
        pytest.param(client_error("ForbiddenException", 403), id="forbidden"),
        pytest.param(client_error("InternalServerError", 500), id="server-error"),
        pytest.param(EndpointConnectionError(endpoint_url="https://x"), id="network"),
        pytest.param(RuntimeError("surprise"), id="unexpected"),
    ],
)
def test_other_failures_are_reported_failed_and_stop_no_one(faulty: FaultyClient, error: BaseException) -> None:
    """Any other error for one recipient lands in ``failed``; the rest are delivered and nothing raises."""
    faulty.errors = {"bad": error}
    faulty.gone = {"dead"}
    result = make_broadcaster(faulty, 2).broadcast(["a", "bad", "dead", "b", "c"], PAYLOAD)
    assert result.failed == ["bad"]
    assert result.gone == ["dead"]
    assert sorted(result.delivered) == ["a", "b", "c"]
    assert [len(delivered(c)) for c in ("a", "b", "c")] == [1, 1, 1]


def test_send_reports_each_outcome(faulty: FaultyClient) -> None:
    """send() to one connection answers delivered, gone or failed."""
    faulty.gone = {"dead"}
    faulty.errors = {"bad": client_error("ForbiddenException", 403)}
    broadcaster = make_broadcaster(faulty)
    assert broadcaster.send("live", PAYLOAD) is Delivery.DELIVERED
    assert broadcaster.send("dead", PAYLOAD) is Delivery.GONE
    assert broadcaster.send("bad", PAYLOAD) is Delivery.FAILED
    assert delivered("live") == [{"type": "pong", "ts": 1}]


def test_posts_run_in_parallel_within_the_worker_bound(faulty: FaultyClient) -> None:
    """A broadcast overlaps its posts but never runs more than ``max_workers`` at once."""
    in_flight = peak = 0
    lock = threading.Lock()
    post = faulty.post_to_connection

    def slow_post(*, ConnectionId: str, Data: bytes) -> Any:
        nonlocal in_flight, peak
        with lock:
            in_flight += 1
            peak = max(peak, in_flight)
        time.sleep(0.05)
        with lock:
            in_flight -= 1
        return post(ConnectionId=ConnectionId, Data=Data)

    faulty.post_to_connection = slow_post  # type: ignore[method-assign]
    result = make_broadcaster(faulty, 3).broadcast([f"c{i}" for i in range(12)], PAYLOAD)
    assert len(result.delivered) == 12
    assert 1 < peak <= 3


@pytest.mark.parametrize(
    ("setup", "expected"),
    [
        pytest.param({}, Delivery.DELIVERED, id="alive"),
        pytest.param({"gone": True}, Delivery.GONE, id="gone"),
        pytest.param(
            {"error": client_error("LimitExceededException", 429, "GetConnection")}, Delivery.FAILED, id="throttled"
        ),
        pytest.param({"error": EndpointConnectionError(endpoint_url="https://x")}, Delivery.FAILED, id="network"),
    ],
)
def test_probe_reports_whether_a_connection_is_there(
    faulty: FaultyClient, setup: dict[str, Any], expected: Delivery
) -> None:
    """probe() (GET /@connections/{id}) says alive, gone, or failed when API Gateway could not tell."""
    if setup.get("gone"):
        faulty.gone = {"c1"}
    if "error" in setup:
        faulty.errors = {"c1": setup["error"]}
    assert make_broadcaster(faulty).probe("c1") is expected
    assert delivered("c1") == []  # probing posts nothing


def test_probe_that_raises_unexpectedly_reports_failed(faulty: FaultyClient) -> None:
    """As with send(), a surprise from one probe is reported as failed rather than raised."""
    faulty.errors = {"c1": RuntimeError("surprise")}
    assert make_broadcaster(faulty).probe("c1") is Delivery.FAILED
