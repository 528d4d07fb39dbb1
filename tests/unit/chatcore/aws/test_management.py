"""The Management API fast path: the request boto3 would send, answered the way boto3 answers.

Everything here but the moto test needs only boto3/botocore, pytest, cryptography and the layer:
``test_management_runtime_botocore.py`` runs this module again against the botocore the Lambda runtime
ships, without this repository's conftest (so the moto test, which needs it, is left out there).
"""

from __future__ import annotations

import socket
import ssl
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSPreparedRequest, AWSRequest, AWSResponse
from botocore.credentials import Credentials
from botocore.exceptions import ClientError, EndpointConnectionError
from chatcore.aws.broadcaster import Broadcaster
from chatcore.aws.management import SignedManagementClient
from chatcore.records import Delivery

PAYLOAD = b'{"type":"pong","ts":1}'
DROP = 0
"""A scripted status that means: read the request, then close the connection without answering."""


class Script:
    """What the fake endpoint answers, in order (then 200; ``DROP`` closes instead), and what it saw."""

    def __init__(self) -> None:
        self.answers: list[tuple[int, str | None]] = []
        self.requests: list[dict[str, Any]] = []
        self.client_ports: set[int] = set()
        self.close_after_each = False
        self.framing = "length"
        """How bodies are delimited: ``length`` (Content-Length), ``chunked``, or ``close`` (end of connection)."""
        self.lock = threading.Lock()


@pytest.fixture
def endpoint() -> Iterator[tuple[str, Script]]:
    """A real HTTP/1.1 keep-alive server on localhost standing in for API Gateway."""
    yield from _serve(None)


def _serve(tls: ssl.SSLContext | None) -> Iterator[tuple[str, Script]]:
    script = Script()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", 0)))
            with script.lock:
                script.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
                script.client_ports.add(self.client_address[1])
                status, error = script.answers.pop(0) if script.answers else (200, None)
            if status == DROP:
                self.close_connection = True
                return
            payload = b"" if status == 200 else b'{"message": "scripted"}'
            self.send_response(status)
            if error:
                self.send_header("x-amzn-ErrorType", error)
            if script.framing == "chunked":
                self.send_header("transfer-encoding", "chunked")
            elif script.framing == "length":
                self.send_header("content-length", str(len(payload)))
            if script.close_after_each or script.framing == "close":
                # Closed after answering, without saying so: the client finds out on its next request,
                # as with a keep-alive connection the server dropped while idle.
                self.close_connection = True
            self.end_headers()
            if script.framing == "chunked":
                self.wfile.write(
                    b"".join(
                        f"{len(part):x}\r\n".encode() + part + b"\r\n" for part in (payload[:5], payload[5:]) if part
                    )
                    + b"0\r\n\r\n"
                )
            else:
                self.wfile.write(payload)

        def log_message(self, *_args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    if tls is None:
        yield f"http://127.0.0.1:{server.server_address[1]}/prod", script
    else:
        yield f"https://localhost:{server.server_address[1]}/prod", script
    server.shutdown()
    server.server_close()


def make_client(url: str, token: str | None = None, **kwargs: Any) -> tuple[SignedManagementClient, list[float]]:
    boto_client = boto3.client(
        "apigatewaymanagementapi",
        endpoint_url=url,
        region_name="eu-west-1",
        aws_access_key_id="AKIDEXAMPLE",
        aws_secret_access_key="secret",
        aws_session_token=token,
    )
    sleeps: list[float] = []
    client = SignedManagementClient(
        boto_client, Credentials("AKIDEXAMPLE", "secret", token), sleep=sleeps.append, **kwargs
    )
    return client, sleeps


@pytest.mark.parametrize("token", [None, "session-token"], ids=["keys", "session"])
@pytest.mark.parametrize(
    "url", ["https://abc123.execute-api.eu-west-1.amazonaws.com/prod", "http://127.0.0.1:8080"], ids=["aws", "local"]
)
def test_signature_is_the_one_botocore_computes(url: str, token: str | None) -> None:
    """The SigV4 headers equal botocore's own for the same request, odd connection ids included."""
    client, _ = make_client(url, token)
    # The connection id "L0SM9c+/OFvHcCIhw=" as boto3 puts it in the URL.
    path = client._base_path + "/@connections/L0SM9c%2B%2FOFvHcCIhw%3D"
    now = datetime(2025, 5, 4, 3, 2, 1, tzinfo=UTC)
    ours = client._signed_headers(path, PAYLOAD, now)

    request = AWSRequest(method="POST", url=url.rstrip("/") + "/@connections/L0SM9c%2B%2FOFvHcCIhw%3D", data=PAYLOAD)
    request.headers["X-Amz-Date"] = now.strftime("%Y%m%dT%H%M%SZ")
    if token:
        request.headers["X-Amz-Security-Token"] = token
    request.context["timestamp"] = now.strftime("%Y%m%dT%H%M%SZ")
    auth = SigV4Auth(Credentials("AKIDEXAMPLE", "secret", token), "execute-api", "eu-west-1")
    canonical = auth.canonical_request(request)
    signature = auth.signature(auth.string_to_sign(request, canonical), request)

    assert ours["authorization"].endswith(f"Signature={signature}")
    assert f"SignedHeaders={auth.signed_headers(auth.headers_to_sign(request))}," in ours["authorization"]


def test_post_reaches_the_endpoint_once_with_the_payload(endpoint: tuple[str, Script]) -> None:
    """A post is one signed POST to <stage>/@connections/<encoded id> carrying the bytes unchanged."""
    url, script = endpoint
    client, _ = make_client(url)
    client.post_to_connection(ConnectionId="a+b/c=", Data=PAYLOAD)
    assert [r["path"] for r in script.requests] == ["/prod/@connections/a%2Bb%2Fc%3D"]
    assert script.requests[0]["body"] == PAYLOAD
    assert script.requests[0]["headers"]["authorization"].startswith("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/")


class _CountingSocket:
    """A real socket that records each write (HTTPResponse reads it through ``makefile``)."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.writes: list[bytes] = []

    def sendall(self, data: bytes) -> None:
        self.writes.append(bytes(data))
        self.sock.sendall(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.sock, name)


def test_a_post_leaves_in_one_write(endpoint: tuple[str, Script], monkeypatch: pytest.MonkeyPatch) -> None:
    """Request line, headers and body go in a single write, so the endpoint is not woken twice per post."""
    url, script = endpoint
    client, _ = make_client(url)
    sockets: list[_CountingSocket] = []
    open_socket = client._open

    def counting() -> Any:
        sockets.append(_CountingSocket(open_socket()))
        return sockets[-1]

    monkeypatch.setattr(client, "_open", counting)
    client.post_to_connection(ConnectionId="c1", Data=PAYLOAD)
    client.post_to_connection(ConnectionId="c2", Data=PAYLOAD)
    assert len(sockets) == 1 and len(sockets[0].writes) == 2
    assert all(
        w.startswith(b"POST /prod/@connections/c") and w.endswith(b"\r\n\r\n" + PAYLOAD) for w in sockets[0].writes
    )
    assert [r["body"] for r in script.requests] == [PAYLOAD, PAYLOAD]


def test_posts_from_one_thread_reuse_one_connection(endpoint: tuple[str, Script]) -> None:
    """Keep-alive: ten posts from one thread open one TCP connection."""
    url, script = endpoint
    client, _ = make_client(url)
    for i in range(10):
        client.post_to_connection(ConnectionId=f"c{i}", Data=PAYLOAD)
    assert len(script.requests) == 10
    assert len(script.client_ports) == 1


def test_a_connection_the_server_closed_is_reopened_without_a_retry(endpoint: tuple[str, Script]) -> None:
    """When the server drops idle keep-alive connections, every post still arrives once and nothing sleeps."""
    url, script = endpoint
    script.close_after_each = True
    client, sleeps = make_client(url)
    for i in range(3):
        client.post_to_connection(ConnectionId=f"c{i}", Data=PAYLOAD)
    assert [r["path"] for r in script.requests] == [f"/prod/@connections/c{i}" for i in range(3)]
    assert sleeps == []


def test_a_kept_connection_dropped_before_answering_is_reopened_without_a_retry(endpoint: tuple[str, Script]) -> None:
    """A reused connection the server closes instead of answering: the post goes again at once on a new one."""
    url, script = endpoint
    script.answers = [(200, None), (DROP, None)]
    client, sleeps = make_client(url)
    client.post_to_connection(ConnectionId="c1", Data=PAYLOAD)
    client.post_to_connection(ConnectionId="c2", Data=PAYLOAD)
    assert [r["path"] for r in script.requests] == ["/prod/@connections/c1", *["/prod/@connections/c2"] * 2]
    assert len(script.client_ports) == 2
    assert sleeps == []


def test_a_new_connection_dropped_before_answering_is_retried_with_backoff(endpoint: tuple[str, Script]) -> None:
    """A fresh connection closed without an answer is a transport error: one jittered sleep, then success."""
    url, script = endpoint
    script.answers = [(DROP, None)]
    client, sleeps = make_client(url)
    client.post_to_connection(ConnectionId="c1", Data=PAYLOAD)
    assert [r["path"] for r in script.requests] == ["/prod/@connections/c1"] * 2
    assert len(sleeps) == 1 and 0 <= sleeps[0] <= 0.05


@pytest.mark.parametrize("framing", ["chunked", "close"])
def test_answers_framed_in_chunks_or_by_closing_are_read_whole(endpoint: tuple[str, Script], framing: str) -> None:
    """Chunked and connection-delimited bodies are read whole: the error code still comes through."""
    url, script = endpoint
    script.framing = framing
    script.answers = [(403, None), (200, None), (200, None)]
    client, _ = make_client(url)
    with pytest.raises(ClientError) as raised:
        client.post_to_connection(ConnectionId="c1", Data=PAYLOAD)
    assert raised.value.response["Error"]["Message"] == "scripted"
    client.post_to_connection(ConnectionId="c2", Data=PAYLOAD)
    client.post_to_connection(ConnectionId="c3", Data=PAYLOAD)
    assert [r["path"] for r in script.requests] == [f"/prod/@connections/c{i}" for i in (1, 2, 3)]


@pytest.fixture
def tls_endpoint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, Script]]:
    """The same server over TLS with a certificate for localhost, trusted through AWS_CA_BUNDLE."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_path, key_path)
    monkeypatch.setenv("AWS_CA_BUNDLE", str(cert_path))
    yield from _serve(context)


def test_posts_over_tls_verify_the_certificate_and_reuse_the_connection(tls_endpoint: tuple[str, Script]) -> None:
    """https endpoints get TLS with certificate checks (a private CA through AWS_CA_BUNDLE) and keep-alive."""
    url, script = tls_endpoint
    client, _ = make_client(url)
    for i in range(3):
        client.post_to_connection(ConnectionId=f"c{i}", Data=PAYLOAD)
    assert [r["body"] for r in script.requests] == [PAYLOAD] * 3
    assert len(script.client_ports) == 1


def test_an_untrusted_certificate_is_refused(tls_endpoint: tuple[str, Script], monkeypatch: pytest.MonkeyPatch) -> None:
    """Without the CA bundle the self-signed endpoint fails as unreachable, and nothing was posted."""
    url, script = tls_endpoint
    monkeypatch.delenv("AWS_CA_BUNDLE")
    client, _ = make_client(url, max_attempts=1)
    with pytest.raises(EndpointConnectionError):
        client.post_to_connection(ConnectionId="c1", Data=PAYLOAD)
    assert script.requests == []


def test_gone_raises_the_clients_gone_exception(endpoint: tuple[str, Script]) -> None:
    """410 raises the wrapped client's GoneException, once, with no retry."""
    url, script = endpoint
    script.answers = [(410, "GoneException")]
    client, sleeps = make_client(url)
    with pytest.raises(client.exceptions.GoneException) as raised:
        client.post_to_connection(ConnectionId="dead", Data=PAYLOAD)
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 410
    assert len(script.requests) == 1
    assert sleeps == []


@pytest.mark.parametrize(
    ("answers", "base"),
    [
        pytest.param([(429, "LimitExceededException")] * 2, 1.0, id="throttled"),
        pytest.param([(500, "InternalServerErrorException"), (503, None)], 0.05, id="server-error"),
    ],
)
def test_throttling_and_server_errors_are_retried_with_backoff(
    endpoint: tuple[str, Script], answers: list[tuple[int, str | None]], base: float
) -> None:
    """429 and 5xx are tried again after jittered exponential sleeps, then the post succeeds."""
    url, script = endpoint
    script.answers = list(answers)
    client, sleeps = make_client(url)
    client.post_to_connection(ConnectionId="c1", Data=PAYLOAD)
    assert len(script.requests) == 3
    assert len(sleeps) == 2
    assert 0 <= sleeps[0] <= base and 0 <= sleeps[1] <= 2 * base


def test_retries_stop_after_max_attempts_with_the_services_error(endpoint: tuple[str, Script]) -> None:
    """After max_attempts throttled answers the modelled LimitExceededException is raised."""
    url, script = endpoint
    script.answers = [(429, "LimitExceededException")] * 10
    client, sleeps = make_client(url, max_attempts=3)
    with pytest.raises(client.exceptions.LimitExceededException):
        client.post_to_connection(ConnectionId="c1", Data=PAYLOAD)
    assert len(script.requests) == 3
    assert len(sleeps) == 2


def test_other_client_errors_are_not_retried(endpoint: tuple[str, Script]) -> None:
    """403 raises ForbiddenException at once."""
    url, script = endpoint
    script.answers = [(403, "ForbiddenException")]
    client, sleeps = make_client(url)
    with pytest.raises(ClientError) as raised:
        client.post_to_connection(ConnectionId="c1", Data=PAYLOAD)
    assert raised.value.response["Error"]["Code"] == "ForbiddenException"
    assert (len(script.requests), sleeps) == (1, [])


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_an_unreachable_endpoint_raises_endpoint_connection_error() -> None:
    """Nothing listening: EndpointConnectionError after max_attempts, as boto3 raises."""
    client, sleeps = make_client(f"http://127.0.0.1:{_free_port()}", max_attempts=2)
    with pytest.raises(EndpointConnectionError):
        client.post_to_connection(ConnectionId="c1", Data=PAYLOAD)
    assert len(sleeps) == 1


def test_broadcaster_over_the_fast_path_reports_each_outcome(endpoint: tuple[str, Script]) -> None:
    """Through the Broadcaster: 410 is gone, 403 failed, the rest delivered."""
    url, script = endpoint
    script.answers = [(410, "GoneException"), (403, "ForbiddenException")]
    client, _ = make_client(url)
    broadcaster = Broadcaster(client, max_workers=1)  # one worker: the scripted answers go in order
    result = broadcaster.broadcast(["gone", "forbidden", "ok1", "ok2"], PAYLOAD)
    assert (result.gone, result.failed, sorted(result.delivered)) == (["gone"], ["forbidden"], ["ok1", "ok2"])
    assert broadcaster.send("ok3", PAYLOAD) is Delivery.DELIVERED


class _Raw:
    """The raw body botocore's AWSResponse streams from."""

    def __init__(self, body: bytes) -> None:
        self.body = body

    def stream(self, **_kwargs: Any) -> Iterator[bytes]:
        yield self.body


def test_a_before_send_handler_answers_instead_of_the_wire(endpoint: tuple[str, Script]) -> None:
    """botocore's before-send event sees the signed request; the handler's answer counts and nothing is sent."""
    url, script = endpoint
    client, _ = make_client(url)
    seen: list[AWSPreparedRequest] = []
    answers = [(410, {"x-amzn-ErrorType": "GoneException"}), (200, {})]

    def handler(request: AWSPreparedRequest, **_kwargs: Any) -> AWSResponse:
        seen.append(request)
        status, headers = answers.pop(0)
        return AWSResponse(request.url, status, headers, _Raw(b"{}"))  # type: ignore[arg-type]

    client.meta.events.register("before-send.apigatewaymanagementapi.PostToConnection", handler)
    with pytest.raises(client.exceptions.GoneException):
        client.post_to_connection(ConnectionId="gone", Data=PAYLOAD)
    client.post_to_connection(ConnectionId="ok", Data=PAYLOAD)
    assert script.requests == []
    assert [r.url for r in seen] == [f"{url}/@connections/gone", f"{url}/@connections/ok"]
    assert seen[0].body == PAYLOAD
    assert seen[0].headers["authorization"].startswith("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/")


def test_moto_still_receives_the_posts(aws: None) -> None:
    """Interceptors of botocore's before-send (moto here) answer the fast path as they answer boto3."""
    from tests.conftest import MANAGEMENT_URL, delivered  # the repository's conftest: not in the runtime run

    boto_client = boto3.client("apigatewaymanagementapi", endpoint_url=MANAGEMENT_URL, region_name="us-east-1")
    client = SignedManagementClient(boto_client, boto3.session.Session().get_credentials())  # type: ignore[arg-type]
    client.post_to_connection(ConnectionId="via-moto", Data=PAYLOAD)
    assert delivered("via-moto") == [{"type": "pong", "ts": 1}]
