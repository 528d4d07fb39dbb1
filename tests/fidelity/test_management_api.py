"""The Management API (``@connections``) as API Gateway serves it to boto3: fields, signing, stage path, 410."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import pytest
from botocore import UNSIGNED
from botocore.exceptions import ClientError

from tests.fidelity.conftest import management
from tests.fidelity.probe import Probe
from tests.helpers.clients import Api, ChatClient, connection_id
from tests.helpers.signing import send, signed_headers
from tests.helpers.stack import StackProcess

STAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


@pytest.fixture
def chat_connection(stack: StackProcess, api: Api, clients: list[ChatClient]) -> tuple[ChatClient, str]:
    """A connection to the chat stack and its id."""
    client = ChatClient(stack.ws_url, api.register("mgmt").token)
    clients.append(client)
    return client, connection_id(stack.url, client)


def test_boto3_get_connection_returns_the_fields_with_their_types(
    stack: StackProcess, chat_connection: tuple[ChatClient, str]
) -> None:
    """GetConnection (API reference): boto3 parses connectedAt, identity {sourceIp, userAgent}, lastActiveAt:
    datetimes to the millisecond and strings."""
    client, target = chat_connection
    info = management(stack, "prod").get_connection(ConnectionId=target)
    connected, last = info["ConnectedAt"], info["LastActiveAt"]
    assert isinstance(connected, datetime) and isinstance(last, datetime)
    assert connected.microsecond % 1000 == 0 and last.microsecond % 1000 == 0
    assert abs(datetime.now(UTC) - connected) < timedelta(minutes=1) and last >= connected
    assert info["Identity"] == {"SourceIp": "127.0.0.1", "UserAgent": client.user_agent}


def test_the_wire_has_camel_case_names_and_millisecond_timestamps(
    stack: StackProcess, chat_connection: tuple[ChatClient, str]
) -> None:
    """GetConnection (API reference): the JSON body is {connectedAt, identity: {sourceIp, userAgent}, lastActiveAt}."""
    _client, target = chat_connection
    url = f"{stack.url}/prod/@connections/{quote(target, safe='')}"
    status, _headers, body = send("GET", url, headers=signed_headers("GET", url, b"", stack.credentials))
    answer = json.loads(body)
    assert status == 200 and set(answer) == {"connectedAt", "identity", "lastActiveAt"}
    assert set(answer["identity"]) == {"sourceIp", "userAgent"}
    assert STAMP.match(answer["connectedAt"]) and STAMP.match(answer["lastActiveAt"])


def test_last_active_moves_with_data_either_way(probe_stack: StackProcess, probe: Probe) -> None:
    """GetConnection: lastActiveAt is the last time data went over the connection, to the client included."""
    target = probe.connection_id
    client = management(probe_stack)
    before = client.get_connection(ConnectionId=target)["LastActiveAt"]
    client.post_to_connection(ConnectionId=target, Data=b'{"type":"nudge"}')
    probe.wait_for(lambda f: isinstance(f, dict) and f.get("type") == "nudge")
    assert client.get_connection(ConnectionId=target)["LastActiveAt"] > before


def test_unsigned_requests_are_refused_with_forbidden_exception(
    stack: StackProcess, chat_connection: tuple[ChatClient, str]
) -> None:
    """@connections page (IAM authorization, execute-api:ManageConnections): boto3 unsigned gets ForbiddenException
    for every verb, while signed by the stack's credentials it is served."""
    _client, target = chat_connection
    unsigned = management(stack, "prod", signature_version=UNSIGNED)
    calls: list[Callable[[], object]] = [
        lambda: unsigned.post_to_connection(ConnectionId=target, Data=b"{}"),
        lambda: unsigned.get_connection(ConnectionId=target),
        lambda: unsigned.delete_connection(ConnectionId=target),
    ]
    for call in calls:
        with pytest.raises(unsigned.exceptions.ForbiddenException):
            call()
    assert management(stack, "prod").get_connection(ConnectionId=target)["Identity"]["SourceIp"] == "127.0.0.1"


def test_the_endpoint_takes_the_stage_in_its_path(probe_stack: StackProcess, probe: Probe) -> None:
    """@connections page: the endpoint is https://{api-id}.execute-api.{region}.amazonaws.com/{stage}; another
    stage is refused (403)."""
    target = probe.connection_id
    management(probe_stack, "probe").post_to_connection(ConnectionId=target, Data=b'{"type":"staged"}')
    assert probe.wait_for(lambda f: isinstance(f, dict) and f.get("type") == "staged")
    with pytest.raises(ClientError) as refused:
        management(probe_stack, "elsewhere").post_to_connection(ConnectionId=target, Data=b"{}")
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert probe.before_marker() == []  # the refused post delivered nothing


def test_every_verb_answers_410_for_a_gone_connection(probe_stack: StackProcess) -> None:
    """@connections page (PostToConnection, GetConnection, DeleteConnection): 410 GoneException once the
    connection is closed, and for an id that never was."""
    subject = Probe(probe_stack)
    gone = subject.connection_id
    subject.close()
    client = management(probe_stack)
    for target in (gone, "AAAAAAAAAAAAAAA="):
        calls: list[Callable[[str], object]] = [
            lambda t: client.post_to_connection(ConnectionId=t, Data=b"{}"),
            lambda t: client.get_connection(ConnectionId=t),
            lambda t: client.delete_connection(ConnectionId=t),
        ]
        for call in calls:
            with pytest.raises(client.exceptions.GoneException):
                call(target)


def test_a_post_over_128_kb_is_refused_with_413(probe_stack: StackProcess, probe: Probe) -> None:
    """Quotas page (message payload 128 KB) and PostToConnection: a larger post is PayloadTooLargeException."""
    target = probe.connection_id
    with pytest.raises(ClientError) as refused:
        management(probe_stack).post_to_connection(ConnectionId=target, Data=b"x" * (128 * 1024 + 1))
    assert refused.value.response["Error"]["Code"] == "PayloadTooLargeException"
    assert probe.before_marker() == []
