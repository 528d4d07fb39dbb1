"""The local Management API (``/@connections/{id}``) verifies SigV4 as API Gateway does: only the stack's
credentials may post to, read or close a connection; anyone else gets 403 and changes nothing."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import pytest
from botocore import UNSIGNED
from botocore.credentials import Credentials
from botocore.exceptions import ClientError
from websockets.exceptions import ConnectionClosed

from tests.helpers.clients import Api, ChatClient, Frame, connection_id
from tests.helpers.signing import send, signed_headers
from tests.helpers.stack import StackProcess


@pytest.fixture
def listener(stack: StackProcess, api: Api, clients: list[ChatClient]) -> tuple[ChatClient, str]:
    """A connected client (no room needed) and its connection id."""
    client = ChatClient(stack.ws_url, api.register("target").token)
    clients.append(client)
    return client, connection_id(stack.url, client)


def nothing_arrived_before_a_signed_marker(stack: StackProcess, client: ChatClient, target: str) -> list[Frame]:
    """Frames ``client`` got before a marker posted now with the stack's credentials; consumed.

    The positive control of "a refused request delivered nothing": each refused request was answered
    before the marker was posted, so a frame it had delivered would have arrived first.
    """
    stack.management().post_to_connection(ConnectionId=target, Data=b'{"type":"marker"}')
    client.expect("marker")
    earlier, client.frames = client.frames, []
    return earlier


def test_signed_post_get_and_delete_work(stack: StackProcess, listener: tuple[ChatClient, str]) -> None:
    """With the stack's credentials boto3 posts a frame, reads the connection and closes it (then 410)."""
    client, target = listener
    management = stack.management()

    management.post_to_connection(ConnectionId=target, Data=b'{"type":"hello","n":1}')
    assert client.expect("hello") == {"type": "hello", "n": 1}
    info = management.get_connection(ConnectionId=target)
    assert info["Identity"]["UserAgent"] == client.user_agent
    management.delete_connection(ConnectionId=target)
    with pytest.raises(ConnectionClosed):
        client.socket.recv(timeout=10)
    assert client.socket.close_code == 1000
    with pytest.raises(management.exceptions.GoneException):
        management.get_connection(ConnectionId=target)


def test_unsigned_requests_are_forbidden_and_change_nothing(
    stack: StackProcess, listener: tuple[ChatClient, str]
) -> None:
    """Plain POST, GET and DELETE (what a page or a neighbour could send) get 403 ForbiddenException."""
    client, target = listener
    url = f"{stack.url}/@connections/{quote(target, safe='')}"
    for method in ("POST", "GET", "DELETE"):
        status, headers, body = send(method, url, b'{"type":"forged"}', {"Content-Type": "application/json"})
        assert (status, headers["x-amzn-ErrorType"], json.loads(body)) == (
            403,
            "ForbiddenException",
            {"message": "Forbidden"},
        ), method
    unsigned = stack.management(signature_version=UNSIGNED)
    with pytest.raises(unsigned.exceptions.ForbiddenException):
        unsigned.post_to_connection(ConnectionId=target, Data=b'{"type":"forged"}')

    assert nothing_arrived_before_a_signed_marker(stack, client, target) == []
    assert not client.closed  # the DELETEs closed nothing


def _refusal(call: Callable[[], object]) -> tuple[int, str, str]:
    with pytest.raises(ClientError) as refused:
        call()
    error = refused.value.response
    return error["ResponseMetadata"]["HTTPStatusCode"], error["Error"]["Code"], error["Error"]["Message"]


def test_another_secret_or_access_key_is_refused(stack: StackProcess, listener: tuple[ChatClient, str]) -> None:
    """Signed with a wrong secret: 403 InvalidSignatureException; with an unknown key: 403 UnrecognizedClient."""
    client, target = listener
    mine = stack.credentials
    wrong_secret = stack.management(Credentials(mine.access_key, mine.secret_key + "x"))
    wrong_key = stack.management(Credentials("someone-else", mine.secret_key))

    status, code, message = _refusal(lambda: wrong_secret.post_to_connection(ConnectionId=target, Data=b"{}"))
    assert (status, code) == (403, "InvalidSignatureException")
    assert message.startswith("The request signature we calculated does not match the signature you provided.")
    assert _refusal(lambda: wrong_secret.delete_connection(ConnectionId=target))[:2] == (
        403,
        "InvalidSignatureException",
    )
    assert _refusal(lambda: wrong_key.post_to_connection(ConnectionId=target, Data=b"{}")) == (
        403,
        "UnrecognizedClientException",
        "The security token included in the request is invalid.",
    )

    assert nothing_arrived_before_a_signed_marker(stack, client, target) == []
    assert not client.closed


def test_a_signature_covers_the_body_and_the_connection(stack: StackProcess, listener: tuple[ChatClient, str]) -> None:
    """A genuinely signed request replayed with another body, or to another connection, is refused."""
    client, target = listener
    url = f"{stack.url}/@connections/{quote(target, safe='')}"
    headers = signed_headers("POST", url, b'{"type":"genuine"}', stack.credentials)
    assert send("POST", url, b'{"type":"tampered"}', headers)[0] == 403
    other = f"{stack.url}/@connections/{quote(target + 'x', safe='')}"
    assert send("POST", other, b'{"type":"genuine"}', headers)[0] == 403
    assert send("POST", url, b'{"type":"genuine"}', headers)[0] == 200  # the untouched request passes

    assert client.expect("genuine") == {"type": "genuine"}
    assert nothing_arrived_before_a_signed_marker(stack, client, target) == []


def test_a_timestamp_more_than_five_minutes_off_is_refused_with_aws_message(
    stack: StackProcess, listener: tuple[ChatClient, str]
) -> None:
    """Signed 6 minutes ago or ahead: 403 'Signature expired' / 'not yet current'; 4 minutes off still passes."""
    client, target = listener
    url = f"{stack.url}/@connections/{quote(target, safe='')}"
    now = datetime.now(UTC).replace(tzinfo=None)

    def post(shift: timedelta, kind: str) -> tuple[int, str, str]:
        body = json.dumps({"type": kind}).encode()
        status, headers, answer = send(
            "POST", url, body, signed_headers("POST", url, body, stack.credentials, at=now + shift)
        )
        return status, headers.get("x-amzn-ErrorType", ""), json.loads(answer)["message"] if answer else ""

    status, error, message = post(timedelta(minutes=-6), "stale")
    assert (status, error) == (403, "InvalidSignatureException")
    assert message.startswith("Signature expired: ") and message.endswith(" - 5 min.)")
    status, error, message = post(timedelta(minutes=6), "early")
    assert (status, error) == (403, "InvalidSignatureException")
    assert message.startswith("Signature not yet current: ") and message.endswith(" + 5 min.)")
    assert post(timedelta(minutes=-4), "recent")[0] == 200
    assert post(timedelta(minutes=4), "soon")[0] == 200

    assert [f["type"] for f in nothing_arrived_before_a_signed_marker(stack, client, target)] == ["recent", "soon"]
