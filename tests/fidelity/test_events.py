"""Event shapes: what each function receives has the keys and types of events API Gateway really sent."""

from __future__ import annotations

from tests.fidelity import sources
from tests.fidelity.probe import Probe, records
from tests.fidelity.sources import shape
from tests.helpers.stack import StackProcess


def test_connect_event_has_the_shape_of_a_captured_connect(probe_stack: StackProcess, probe: Probe) -> None:
    """$connect gets the shape of Powertools' captured apiGatewayWebSocketApiConnect.json (+ aws-lambda-go's query)."""
    subject = Probe(probe_stack, mode="record")
    event = records(probe, subject.connection_id, "connect")
    subject.close()
    assert shape(event, sources.CONNECT) == {**sources.CONNECT, **sources.CONNECT_QUERY}
    context = event["requestContext"]
    assert (context["routeKey"], context["eventType"], context["messageDirection"]) == ("$connect", "CONNECT", "IN")
    assert context["requestId"] == context["extendedRequestId"]  # one id, as in every capture
    assert context["stage"] == "probe"  # the template's stage name
    assert event["queryStringParameters"] == {"mode": "record"}
    assert event["multiValueQueryStringParameters"] == {"mode": ["record"]}
    assert event["headers"]["User-Agent"] == context["identity"]["userAgent"] == subject.user_agent


def test_message_event_has_the_shape_of_a_captured_message(probe: Probe) -> None:
    """A frame's event has aws-lambda-go's captured apigw-websocket-request-send-message.json shape."""
    answer = probe.echo(extra="ü")
    event = answer["event"]
    assert shape(event, sources.MESSAGE) == sources.MESSAGE
    context = event["requestContext"]
    assert (context["routeKey"], context["eventType"]) == ("echo", "MESSAGE")
    assert context["requestId"] == context["extendedRequestId"] != context["messageId"]
    assert len(context["connectionId"]) == 16 and context["connectionId"].endswith("=")  # like "R1kmxc2VNjMCFIA="
    assert '"extra": "\\u00fc"' in event["body"] and event["isBase64Encoded"] is False  # the frame, unchanged


def test_disconnect_event_has_the_shape_of_a_captured_disconnect(probe_stack: StackProcess, probe: Probe) -> None:
    """$disconnect gets aws-lambda-go's captured apigw-websocket-request-disconnect.json shape."""
    subject = Probe(probe_stack)
    subject_id = subject.connection_id
    subject.socket.close(code=1000, reason="done")
    event = records(probe, subject_id, "disconnect")
    assert shape(event, sources.DISCONNECT) == sources.DISCONNECT
    context = event["requestContext"]
    assert (context["routeKey"], context["eventType"]) == ("$disconnect", "DISCONNECT")
    assert event["headers"]["x-api-key"] == event["headers"]["x-restapi"] == ""
