"""The emulator's own surface, hardened: ``/_local/*`` only with ``--test-endpoints`` and JSON bodies, CORS only
for the stack's web origins, ``config.json`` from the configuration, and deep JSON routed to ``$default``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers.clients import Api, ChatClient, connection_id, local_connections
from tests.helpers.signing import send
from tests.helpers.stack import StackProcess

DEV_ORIGIN = "http://dev.example:3000"
PUBLIC_URL = "https://chat.example:8443"
FOREIGN = "http://evil.example"


@pytest.fixture(scope="module")
def plain_stack(tmp_root: Path, stack_database: str) -> Iterator[StackProcess]:
    """``chat-local`` as a user runs it: no ``--test-endpoints``; one ``--allowed-origin``; a ``--public-url``."""
    process = StackProcess(
        tmp_root / "plain-stack",
        "--allowed-origin",
        DEV_ORIGIN,
        "--public-url",
        PUBLIC_URL,
        env={"DATABASE_URL": stack_database},
        log_path=tmp_root / "plain-stack.log",
        test_endpoints=False,
    ).start()
    yield process
    process.stop()


# ---------------------------------------------------------------- /_local/*


def test_without_the_flag_every_local_endpoint_is_not_found(plain_stack: StackProcess) -> None:
    """No ``--test-endpoints``: GET and POST on ``/_local/*`` answer 404, JSON or not."""
    api = Api(plain_stack.url)
    assert api.call("GET", "/api/openapi.json")[0] == 200  # the stack itself serves
    for method, path in [
        ("GET", "/_local/connections"),
        ("POST", "/_local/connections/abc/drop"),
        ("POST", "/_local/schedules/prune"),
        ("POST", "/_local/faults"),
        ("GET", "/_local/anything"),
    ]:
        assert api.call(method, path, {"management": [503]} if method == "POST" else None)[0] == 404, path


@pytest.mark.parametrize(
    "content_type",
    [None, "text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"],
    ids=["none", "text", "urlencoded", "multipart"],
)
def test_local_posts_need_a_json_body(
    stack: StackProcess, api: Api, clients: list[ChatClient], content_type: str | None
) -> None:
    """What an HTML form can send (or no type at all) gets 415 from every POST endpoint and changes nothing."""
    client = ChatClient(stack.ws_url, api.register("form").token)
    clients.append(client)
    target = connection_id(stack.url, client)
    headers = {} if content_type is None else {"Content-Type": content_type}
    body = json.dumps({"management": [503]}).encode()
    for path in ("/_local/faults", f"/_local/connections/{target}/drop", "/_local/schedules/prune"):
        assert send("POST", stack.url + path, body, headers)[0] == 415, path

    assert target in {c["connectionId"] for c in local_connections(stack.url)}  # not dropped
    status, pending = Api(stack.url).call("POST", "/_local/faults", {"management": []})  # JSON: served
    assert (status, pending) == (200, {"pending": 0})  # no fault was queued by the refused post
    client.request({"type": "ping"}, "pong")


# ---------------------------------------------------------------- config.json


def test_config_json_comes_from_the_configured_address_not_the_host_header(stack: StackProcess) -> None:
    """Whatever Host a request names, config.json points at the address the stack listens on."""
    for host in (None, "evil.example", "evil.example:1234"):
        status, _headers, body = send("GET", stack.url + "/config.json", headers={"Host": host} if host else {})
        assert status == 200
        assert json.loads(body) == {"apiUrl": stack.api_url, "wsUrl": stack.ws_url}, host


def test_config_json_advertises_the_public_url(plain_stack: StackProcess) -> None:
    """With ``--public-url`` the UI is told that URL's APIs (wss for https)."""
    status, _headers, body = send("GET", plain_stack.url + "/config.json", headers={"Host": "evil.example"})
    assert (status, json.loads(body)) == (200, {"apiUrl": f"{PUBLIC_URL}/api", "wsUrl": "wss://chat.example:8443/ws"})


# ---------------------------------------------------------------- CORS


def cors(stack: StackProcess, method: str, origin: str) -> str | None:
    """The Access-Control-Allow-Origin the HTTP API answers a request from ``origin`` with."""
    headers = {"Origin": origin}
    if method == "OPTIONS":
        headers |= {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type"}
    _status, answer, _body = send(method, stack.url + "/api/groups", headers=headers)
    return answer.get("Access-Control-Allow-Origin")  # type: ignore[no-any-return]


@pytest.mark.parametrize("method", ["OPTIONS", "GET"])
def test_cors_allows_the_stacks_own_origins_and_no_others(stack: StackProcess, method: str) -> None:
    """Preflight and response: the UI's origins are allowed; any other Origin gets no CORS header."""
    port = stack.url.rsplit(":", 1)[1]
    for own in (stack.url, f"http://localhost:{port}"):
        assert cors(stack, method, own) == own
    for foreign in (FOREIGN, f"http://localhost:{int(port) + 1}", "null", f"{stack.url}.evil.example"):
        assert cors(stack, method, foreign) is None, foreign


@pytest.mark.parametrize("method", ["OPTIONS", "GET"])
def test_cors_allows_allowed_origins_and_the_public_url(plain_stack: StackProcess, method: str) -> None:
    """``--allowed-origin`` and the ``--public-url``'s origin are allowed too; others still are not."""
    assert cors(plain_stack, method, DEV_ORIGIN) == DEV_ORIGIN
    assert cors(plain_stack, method, PUBLIC_URL) == PUBLIC_URL
    assert cors(plain_stack, method, FOREIGN) is None


# ---------------------------------------------------------------- route selection


@pytest.mark.parametrize(
    "frame",
    ["[" * 50_000 + "]" * 50_000, '{"type": "message", "roomId": ' + "[" * 30_000 + "]" * 30_000 + "}"],
    ids=["array", "inside-an-object"],
)
def test_deeply_nested_json_is_routed_to_default(
    stack: StackProcess, api: Api, clients: list[ChatClient], frame: str
) -> None:
    """A message nested past the parser's depth reaches ``$default`` (an invalid_message error); the socket lives."""
    client = ChatClient(stack.ws_url, api.register("deep").token)
    clients.append(client)
    client.send_in_frames(frame)  # over 32 KB: in several frames, as API Gateway requires
    assert client.expect("error")["code"] == "invalid_message"
    client.request({"type": "ping"}, "pong")
