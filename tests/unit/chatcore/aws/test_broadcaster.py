"""The Management API broadcaster over moto, faking only what moto cannot do (410 and other errors)."""

from __future__ import annotations

import threading
from typing import Any, cast

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError
from chatcore.aws.broadcaster import Broadcaster
from chatcore.records import BroadcastResult, Delivery

from tests.conftest import ManagementFake, delivered

PAYLOAD = b'{"type":"pong","ts":1}'


def client_error(code: str, status: int, operation: str = "PostToConnection") -> ClientError:
    response: Any = {"Error": {"Code": code, "Message": code}, "ResponseMetadata": {"HTTPStatusCode": status}}
    return ClientError(response, operation)


def make_broadcaster(client: ManagementFake, max_workers: int = 8) -> Broadcaster:
    return Broadcaster(cast(Any, client), max_workers)  # a stand-in for boto3's client


def test_broadcast_delivers_to_every_connection(management: ManagementFake) -> None:
    """Every connection given receives the payload once; the result lists them all as delivered."""
    targets = [f"c{i}" for i in range(10)]
    result = make_broadcaster(management, 4).broadcast(targets, PAYLOAD)
    assert sorted(result.delivered) == sorted(targets)
    assert (result.gone, result.failed) == ([], [])
    for connection_id in targets:
        assert delivered(connection_id) == [{"type": "pong", "ts": 1}]


@pytest.mark.parametrize("targets", [["a", "a"], ["a", "b", "a", "b", "a"]], ids=["one-id", "two-ids"])
def test_duplicate_ids_are_posted_once(management: ManagementFake, targets: list[str]) -> None:
    """A connection listed twice is attempted and delivered exactly once."""
    result = make_broadcaster(management).broadcast(targets, PAYLOAD)
    assert sorted(result.delivered) == sorted(set(targets))
    for connection_id in set(targets):
        assert len(delivered(connection_id)) == 1


def test_empty_broadcast_posts_nothing(management: ManagementFake) -> None:
    """No connections means no posts and an empty result."""
    assert make_broadcaster(management).broadcast([], PAYLOAD) == BroadcastResult.empty()


@pytest.mark.parametrize("size", [1, 5], ids=["single", "many"])
def test_gone_connections_are_reported_and_the_others_still_delivered(management: ManagementFake, size: int) -> None:
    """A 410 lands in ``gone`` and stops nobody else, with one recipient or many."""
    management.gone = {"dead"}
    targets = ["dead", *[f"live{i}" for i in range(size - 1)]]
    result = make_broadcaster(management).broadcast(targets, PAYLOAD)
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
def test_other_failures_are_reported_failed_and_stop_no_one(management: ManagementFake, error: BaseException) -> None:
    """Any other error for one recipient lands in ``failed``; the rest are delivered and nothing raises."""
    management.errors = {"bad": error}
    management.gone = {"dead"}
    result = make_broadcaster(management, 2).broadcast(["a", "bad", "dead", "b", "c"], PAYLOAD)
    assert result.failed == ["bad"]
    assert result.gone == ["dead"]
    assert sorted(result.delivered) == ["a", "b", "c"]
    assert [len(delivered(c)) for c in ("a", "b", "c")] == [1, 1, 1]


def test_send_reports_each_outcome(management: ManagementFake) -> None:
    """send() to one connection answers delivered, gone or failed."""
    management.gone = {"dead"}
    management.errors = {"bad": client_error("ForbiddenException", 403)}
    broadcaster = make_broadcaster(management)
    assert broadcaster.send("live", PAYLOAD) is Delivery.DELIVERED
    assert broadcaster.send("dead", PAYLOAD) is Delivery.GONE
    assert broadcaster.send("bad", PAYLOAD) is Delivery.FAILED
    assert delivered("live") == [{"type": "pong", "ts": 1}]


def test_posts_run_in_parallel_within_the_worker_bound(management: ManagementFake) -> None:
    """A broadcast overlaps its posts but never runs more than ``max_workers`` at once."""
    in_flight = peak = 0
    lock = threading.Lock()
    post = management.post_to_connection
    # Every post waits until three are in flight together: only a pool that really runs three at once finishes.
    together = threading.Barrier(3, timeout=10)

    def slow_post(*, ConnectionId: str, Data: bytes) -> Any:
        nonlocal in_flight, peak
        with lock:
            in_flight += 1
            peak = max(peak, in_flight)
        together.wait()
        with lock:
            in_flight -= 1
        return post(ConnectionId=ConnectionId, Data=Data)

    management.post_to_connection = slow_post  # type: ignore[method-assign]
    result = make_broadcaster(management, 3).broadcast([f"c{i}" for i in range(12)], PAYLOAD)
    assert len(result.delivered) == 12
    assert peak == 3


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
    management: ManagementFake, setup: dict[str, Any], expected: Delivery
) -> None:
    """probe() (GET /@connections/{id}) says alive, gone, or failed when API Gateway could not tell."""
    if setup.get("gone"):
        management.gone = {"c1"}
    if "error" in setup:
        management.errors = {"c1": setup["error"]}
    assert make_broadcaster(management).probe("c1") is expected
    assert delivered("c1") == []  # probing posts nothing


def test_probe_that_raises_unexpectedly_reports_failed(management: ManagementFake) -> None:
    """As with send(), a surprise from one probe is reported as failed rather than raised."""
    management.errors = {"c1": RuntimeError("surprise")}
    assert make_broadcaster(management).probe("c1") is Delivery.FAILED
