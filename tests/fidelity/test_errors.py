"""Errors: what the client sees when an integration fails, and when it only answers an error."""

from __future__ import annotations

import pytest
from websockets.exceptions import InvalidStatus

from tests.fidelity.probe import Probe, settled
from tests.helpers.stack import StackProcess


def test_a_failed_invocation_sends_internal_server_error(probe: Probe) -> None:
    """Integration responses page: when the integration fails the client gets API Gateway's own error frame."""
    connection_id = probe.connection_id
    probe.send({"type": "fail"})
    error = probe.message("Internal server error")
    assert set(error) == {"message", "connectionId", "requestId"} and error["connectionId"] == connection_id
    assert probe.echo()["type"] == "echo"  # the connection lives


def test_a_returned_500_is_not_an_error_to_api_gateway(probe_stack: StackProcess, probe: Probe) -> None:
    """Integration responses page: a 500 the function returns is an answer, not a failure: no error frame
    on a one-way route, its body on a two-way one."""
    connection_id = probe.connection_id
    probe.send({"type": "status500"})
    settled(probe_stack, connection_id)
    assert probe.before_marker() == []
    probe.send({"type": "status500reply"})
    assert probe.wait_for(lambda f: f == "handled: 500") == "handled: 500"
    settled(probe_stack, connection_id)
    assert probe.before_marker() == []  # nothing else: no "Internal server error" after the body


@pytest.mark.parametrize(("mode", "status"), [("raise", 502), ("deny", 403), ("slow", 504)])
def test_connect_refusals_have_api_gateways_statuses(probe_stack: StackProcess, mode: str, status: int) -> None:
    """$connect route page: a non-2xx answer refuses the upgrade with it; a failed $connect is 502, one past
    its integration timeout (2 s here) 504."""
    with pytest.raises(InvalidStatus) as refused:
        Probe(probe_stack, mode=mode)
    assert refused.value.response.status_code == status
