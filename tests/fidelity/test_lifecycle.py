"""Idle and lifecycle: the idle timeout counts data either way, the maximum duration holds, ``$disconnect``
reports the codes and reasons AWS reports."""

from __future__ import annotations

import time

from tests.fidelity import sources
from tests.fidelity.conftest import management
from tests.fidelity.probe import Probe, records
from tests.helpers.stack import StackProcess


def test_posts_to_the_client_reset_the_idle_timer(short_probe_stack: StackProcess) -> None:
    """Quotas page (idle connection timeout; 2 s here): data sent to the client counts as activity too, so a
    connection that only receives posts stays open while one that gets nothing closes with 1001."""
    fed, starved = Probe(short_probe_stack), Probe(short_probe_stack)
    fed_id, _ = fed.connection_id, starved.connection_id
    client = management(short_probe_stack)
    deadline = time.monotonic() + 4.5  # over twice the idle timeout
    while time.monotonic() < deadline:
        client.post_to_connection(ConnectionId=fed_id, Data=b'{"type":"feed"}')
        fed.wait_for(lambda f: isinstance(f, dict) and f.get("type") == "feed")
        time.sleep(0.4)  # the pace of the posts (under the idle timeout), not a wait for anything
    assert starved.closed_with(timeout=1) == (1001, "Going away")  # the control: idle, closed
    assert not fed.closed and fed.echo()["type"] == "echo"
    fed.close()


def test_idle_and_maximum_duration_closes_report_1001_to_disconnect(short_probe_stack: StackProcess) -> None:
    """Quotas page (idle timeout 10 minutes, connection duration 2 hours; 2 s and 6 s here): both close with
    1001 and $disconnect reports 1001 "Going away"; activity does not extend the maximum."""
    idle, busy = Probe(short_probe_stack), Probe(short_probe_stack)
    idle_id, busy_id = idle.connection_id, busy.connection_id
    opened, idle_closed = time.monotonic(), None
    while busy.keep_active():  # a frame and its answer every few hundred ms, while the other stays quiet
        if idle_closed is None and not idle.keep_open():
            idle_closed = time.monotonic() - opened
        assert time.monotonic() - opened < 10, "the maximum duration never came"
    assert 5.5 <= time.monotonic() - opened < 8
    assert idle_closed is not None and 1.5 <= idle_closed < 4
    assert busy.closed_with() == idle.closed_with() == (1001, "Going away")
    reader = Probe(short_probe_stack)
    for gone in (idle_id, busy_id):
        context = records(reader, gone, "disconnect")["requestContext"]
        assert (context["disconnectStatusCode"], context["disconnectReason"]) == (1001, "Going away")
    reader.close()


def test_disconnect_reports_the_clients_code_and_reason(probe_stack: StackProcess, probe: Probe) -> None:
    """aws-lambda-go's captured disconnect (1001, ""): the client's own close code and reason are passed through."""
    subject = Probe(probe_stack)
    subject_id = subject.connection_id
    subject.socket.close(code=4000, reason="bye now")
    context = records(probe, subject_id, "disconnect")["requestContext"]
    assert (context["disconnectStatusCode"], context["disconnectReason"]) == (4000, "bye now")


def test_an_empty_close_frame_is_reported_as_1005(probe_stack: StackProcess, probe: Probe) -> None:
    """Powertools' captured disconnect: a close frame without a status is 1005 "Client-side close frame
    status not set"."""
    subject = Probe(probe_stack)
    subject_id = subject.connection_id
    subject.socket.close(None)  # type: ignore[arg-type]  # no code: websockets sends an empty close frame
    context = records(probe, subject_id, "disconnect")["requestContext"]
    assert (context["disconnectStatusCode"], context["disconnectReason"]) == sources.EMPTY_CLOSE


def test_a_deleted_connection_is_reported_as_1000_closed_normally(probe_stack: StackProcess, probe: Probe) -> None:
    """@connections page (DELETE disconnects the client) and boto/boto3#3789's execution log: the client sees 1000,
    $disconnect reports 1000 "Connection Closed Normally"."""
    subject = Probe(probe_stack)
    subject_id = subject.connection_id
    management(probe_stack).delete_connection(ConnectionId=subject_id)
    assert subject.closed_with()[0] == 1000
    context = records(probe, subject_id, "disconnect")["requestContext"]
    assert (context["disconnectStatusCode"], context["disconnectReason"]) == sources.DELETED
