"""The local emulator's Lambda events have the shape of API Gateway's (the samples in ``tests/events/``)."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.parser.models import APIGatewayProxyEventV2Model
from chat_local.events import (
    SocketInfo,
    connect_event,
    disconnect_event,
    http_event,
    message_event,
    new_connection_id,
)
from chatcore.aws.events import ConnectEvent, DisconnectEvent, MessageEvent

from tests.helpers.events import load_event

SAMPLE = load_event("ws_connect")
INFO = SocketInfo(
    connection_id="L0SM9cOFvHcCIhw=",
    connected_at=1_795_683_600_000,
    source_ip="127.0.0.1",
    user_agent="Mozilla/5.0",
    domain_name="127.0.0.1:8080",
    stage="local",
)


def shape(value: Any) -> Any:
    """Keys (recursively) and the JSON type of each leaf: what a handler depends on, not the values."""
    if isinstance(value, dict):
        return {key: shape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [shape(value[0])] if value else []
    return type(value).__name__


def _connect() -> dict[str, Any]:
    headers = SAMPLE["headers"]
    return connect_event(INFO, headers, {"token": "t"}, {"token": ["t"]})


def _http() -> dict[str, Any]:
    sample = load_event("http_api")
    return http_event(
        method="GET",
        path="/groups",
        raw_query="",
        query={},
        headers=sample["headers"],
        body=b"",
        source_ip="127.0.0.1",
        domain_name="127.0.0.1:8080",
    )


BUILT = {
    "ws_connect": _connect,
    "ws_message": lambda: message_event(INFO, "message", '{"type":"ping"}'),
    "ws_disconnect": lambda: disconnect_event(INFO, 1001, "Going away"),
    "http_api": _http,
}


@pytest.mark.parametrize("name", sorted(BUILT))
def test_built_events_have_the_keys_of_api_gateways(name: str) -> None:
    """Each builder's event has exactly the keys, nested keys and value types of the AWS sample."""
    assert shape(BUILT[name]()) == shape(load_event(name))


@pytest.mark.parametrize(
    ("name", "model"),
    [("ws_connect", ConnectEvent), ("ws_message", MessageEvent), ("ws_disconnect", DisconnectEvent)],
)
def test_built_websocket_events_parse_with_the_handlers_models(name: str, model: type[Any]) -> None:
    """The handlers' Powertools models accept the built events and read the connection id back."""
    event = parse(event=BUILT[name](), model=model)
    assert event.request_context.connection_id == INFO.connection_id
    assert event.request_context.stage == "local"
    assert parse(event=load_event(name), model=model).request_context.connection_id == "TWegAdtZoAMCJ9g="


def test_connect_event_carries_the_token_and_the_origin() -> None:
    """The query string token and the Origin header reach the connect model."""
    event = parse(event=_connect(), model=ConnectEvent)
    assert event.token == "t"
    assert event.origin == "https://chat.example.com"
    assert event.request_context.route_key == "$connect"


def test_connect_event_without_a_query_string_has_no_token() -> None:
    """With no query string the keys are absent (as in AWS), and the model reads no token."""
    event = connect_event(INFO, {"Host": "x"}, {}, {})
    assert "queryStringParameters" not in event
    assert parse(event=event, model=ConnectEvent).token is None


def test_message_event_routes_and_carries_the_raw_body() -> None:
    """The message event names its route and passes the frame text unchanged."""
    body = '{"type":"message","roomId":1,"text":"grüße"}'
    event = parse(event=message_event(INFO, "message", body), model=MessageEvent)
    assert (event.request_context.route_key, event.request_context.event_type, event.body) == (
        "message",
        "MESSAGE",
        body,
    )


def test_disconnect_event_carries_the_close_code() -> None:
    """The disconnect event reports the WebSocket close code and reason."""
    event = parse(event=disconnect_event(INFO, 1006, "abnormal"), model=DisconnectEvent)
    assert event.request_context.disconnect_status_code == 1006
    assert event.request_context.disconnect_reason == "abnormal"


def test_http_event_parses_as_payload_v2_with_body_and_query() -> None:
    """HTTP API events parse as payload format 2.0; a binary body is base64-encoded, text passes as is."""
    text = http_event(
        method="POST",
        path="/auth/login",
        raw_query="a=1&a=2",
        query={"a": ["1", "2"]},
        headers={"Content-Type": "application/json", "Cookie": "x=1; y=2"},
        body=json.dumps({"u": "ü"}).encode(),
        source_ip="10.0.0.1",
        domain_name="127.0.0.1:8080",
    )
    parsed = parse(event=text, model=APIGatewayProxyEventV2Model)
    assert parsed.requestContext.http.method == "POST"
    assert parsed.queryStringParameters == {"a": "1,2"}
    assert parsed.cookies == ["x=1", "y=2"]
    assert isinstance(parsed.body, str) and json.loads(parsed.body) == {"u": "ü"}
    assert not parsed.isBase64Encoded
    binary = http_event(
        method="POST",
        path="/x",
        raw_query="",
        query={},
        headers={},
        body=b"\xff\x00",
        source_ip="10.0.0.1",
        domain_name="h",
    )
    assert binary["isBase64Encoded"] is True and base64.b64decode(binary["body"]) == b"\xff\x00"


def test_new_connection_ids_look_like_api_gateways() -> None:
    """Connection ids are unique base64 strings of API Gateway's length (16 characters ending in '=')."""
    ids = {new_connection_id() for _ in range(200)}
    assert len(ids) == 200
    assert all(len(i) == len(SAMPLE["requestContext"]["connectionId"]) and i.endswith("=") for i in ids)
