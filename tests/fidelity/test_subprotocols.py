"""Subprotocols: the handshake carries the one ``$connect`` returns."""

from __future__ import annotations

from tests.fidelity.probe import Probe
from tests.helpers.stack import StackProcess


def test_the_subprotocol_connect_returns_is_the_handshakes(probe_stack: StackProcess) -> None:
    """WebSocket subprotocol page: $connect's integration returns Sec-WebSocket-Protocol and API Gateway puts
    it in the handshake; without it the handshake has none (browsers then fail the connection)."""
    chosen = Probe(probe_stack, mode="protocol", subprotocols=["probe.v1"])
    assert chosen.socket.subprotocol == "probe.v1"
    assert chosen.socket.response is not None
    assert chosen.socket.response.headers["Sec-WebSocket-Protocol"] == "probe.v1"
    chosen.close()
    plain = Probe(probe_stack, mode="ok", subprotocols=["probe.v1"])
    assert plain.socket.response is not None
    assert plain.socket.response.headers.get("Sec-WebSocket-Protocol") is None
    plain.close()
