"""A Management API client whose ``post_to_connection`` sends the SigV4-signed request itself.

Why it exists: boto3's generic per-call machinery (parameter validation, endpoint rules, event hooks,
its own signer and retry handler, urllib3's pool) costs more CPU than the post itself: 0.8-1.7 ms per
post on the benchmark machine, against 0.26-0.35 ms here. A fan-out is thousands of posts on a few
threads of a fraction of a vCPU, so that is what bounds it. With boto3's client on the same 32
threads the fan-out benchmark (``bench/fanout.py``) missed both its targets in a quick run (9.5x the
sequential boto3 loop at N = 1000 with 15 ms latency, for >= 20x; 0.43x the raw ``http.client`` loop's
rate at 0 ms, for >= 0.5x).

What it sends: the SigV4 headers are computed here (checked against botocore's ``SigV4Auth`` by the
tests); the request (request line, headers and body) is written here, in one write on a keep-alive
HTTP/1.1 connection per worker thread, and the answer is read by the standard library's
``http.client.HTTPResponse`` (status line, headers, chunked and close-delimited bodies, 1xx). Three
transports were measured side by side in six full fan-out runs on a 2-core machine with a load average
of 1.2-4.9 (CPU per post from the N = 1000, 15 ms cells; all numbers in
``bench/results/fanout-transports.json``):

* urllib3's ``HTTPConnectionPool`` (``retries=False``, sized to the workers): 0.44-0.66 ms per post;
  18.0-23.2x the boto3 loop at 15 ms, below the 20x target in 2 of 6 runs; 0.52-1.02x the limit at
  0 ms. Its pool and response objects cost about 0.2 ms per post more than ``http.client`` alone.
* ``http.client``'s ``HTTPConnection``: 0.26-0.35 ms per post; 21.1-30.7x at 15 ms and 0.89-1.76x at
  0 ms in all four runs it was in: both targets met.
* a hand-written HTTP/1.1 reader over a raw socket (framing, chunked and close-delimited bodies, 1xx):
  0.13-0.19 ms per post; 23.9-30.2x and 1.21-2.67x. It is in git history (commit 54e4e21).

``HTTPConnection`` was kept at first; later measurement showed most of the reader's gain was not its
parsing but its single write: ``HTTPConnection.request`` sends the headers and the body in two
``send`` calls, and each wakes the endpoint's process (against a bare endpoint on the benchmark
machine: 0.58 ms of client CPU per post with two writes, 0.28 ms with one). So the request is now
written here and only the answer is read by ``http.client``.

Botocore is still used for everything else (credentials, the modelled exceptions, ``before-send``
handlers), so ``tests/unit/chatcore/aws/test_management_runtime_botocore.py`` runs the client's tests
against the botocore the Lambda Python runtime ships as well as the one the tests use.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import os
import random
import socket
import ssl
import threading
import time
import urllib.request
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

from botocore.exceptions import ClientError, EndpointConnectionError

if TYPE_CHECKING:
    from botocore.credentials import Credentials
    from mypy_boto3_apigatewaymanagementapi import ApiGatewayManagementApiClient


_SIGNING_SERVICE = "execute-api"
_EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
_THROTTLING_CODES = frozenset({"LimitExceededException", "ThrottlingException", "TooManyRequestsException"})
#: Transport failures worth another attempt, as botocore's standard retry mode treats them.
_TRANSPORT_ERRORS = (OSError, http.client.HTTPException)


class _Retry(Exception):
    """One attempt failed in a way the standard retry mode retries (429, 5xx, a transport error)."""

    def __init__(self, throttled: bool, error: BaseException) -> None:
        super().__init__(str(error))
        self.throttled = throttled
        self.error = error


class SignedManagementClient:
    """A Management API client whose ``post_to_connection`` skips boto3's per-call machinery.

    It sends the same request boto3 sends -- ``POST <endpoint>/@connections/<id>`` signed with SigV4 for
    ``execute-api`` -- over a keep-alive HTTP/1.1 connection per thread (the request in one write, Nagle
    off, TLS for https with the system's trust store or ``AWS_CA_BUNDLE``; the answer read by
    ``http.client.HTTPResponse``),
    and answers the way the wrapped boto3 client does: ``None`` on success, ``GoneException`` for 410,
    the modelled ``ClientError`` subclass for other error statuses, ``EndpointConnectionError`` when the
    endpoint cannot be reached. Throttling (429) and 5xx answers and transport errors are retried with botocore's
    standard-mode backoff (full jitter, base 1 s when throttled and 50 ms otherwise, at most 20 s), up to
    ``max_attempts`` attempts in all; a keep-alive connection the server closed meanwhile is reopened at
    once without counting an attempt.

    Everything else (``get_connection``, ``exceptions``, ``meta``, ...) is the wrapped client's. When the
    client is configured with proxies, or the environment names one, posts go through boto3 too.
    """

    def __init__(
        self,
        client: ApiGatewayManagementApiClient,
        credentials: Credentials,
        *,
        max_attempts: int = 5,
        connect_timeout: float = 2.0,
        read_timeout: float = 5.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._client = client
        self._credentials = credentials
        self._max_attempts = max(1, max_attempts)
        self._connect_timeout = connect_timeout
        self._read_timeout = read_timeout
        self._sleep = sleep
        endpoint = urlsplit(client.meta.endpoint_url)
        if endpoint.scheme not in ("http", "https") or not endpoint.hostname:
            raise ValueError(f"unsupported Management API endpoint {client.meta.endpoint_url!r}")
        self._endpoint_url = client.meta.endpoint_url
        self._secure = endpoint.scheme == "https"
        self._hostname = endpoint.hostname
        self._port = endpoint.port or (443 if self._secure else 80)
        default_port = self._port == (443 if self._secure else 80)
        self._host_header = self._hostname if default_port else f"{self._hostname}:{self._port}"
        self._origin = f"{endpoint.scheme}://{self._host_header}"
        self._before_send_event = f"before-send.{client.meta.service_model.service_id.hyphenize()}.PostToConnection"
        self._base_path = endpoint.path.rstrip("/")
        self._posts_prefix = f"{self._base_path}/@connections/"
        # SigV4 encodes the (already encoded) path once more; the connection id part only has '%' to escape.
        self._canonical_posts_prefix = quote(self._posts_prefix, safe="/~")
        self._stamp: tuple[int, str] = (0, "")
        self._region = client.meta.region_name or "us-east-1"
        # AWS_CA_BUNDLE is botocore's setting for a private CA; the system's trust store otherwise.
        self._ssl_context = (
            ssl.create_default_context(cafile=os.environ.get("AWS_CA_BUNDLE") or None) if self._secure else None
        )
        self._local = threading.local()
        self._keys: tuple[str, str, bytes] | None = None
        """(secret key, date, signing key): the derived key only changes daily."""
        self._keys_lock = threading.Lock()
        proxies = getattr(client.meta.config, "proxies", None)
        self.fast = not proxies and not _environment_proxy(endpoint.scheme, self._hostname)
        """False when posts go through boto3 (a proxy is configured)."""

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    @property
    def exceptions(self) -> Any:
        return self._client.exceptions

    @property
    def meta(self) -> Any:
        return self._client.meta

    def get_connection(self, *, ConnectionId: str) -> Any:
        return self._client.get_connection(ConnectionId=ConnectionId)

    def delete_connection(self, *, ConnectionId: str) -> Any:
        return self._client.delete_connection(ConnectionId=ConnectionId)

    def post_to_connection(self, *, ConnectionId: str, Data: bytes) -> None:
        """Post ``Data`` to one connection; raises as boto3 would (see the class)."""
        if not self.fast:
            self._client.post_to_connection(ConnectionId=ConnectionId, Data=Data)
            return
        if isinstance(Data, str):  # boto3 accepts text too
            Data = Data.encode()
        path = self._posts_prefix + quote(ConnectionId, safe="-_.~")
        attempt = 0
        while True:
            attempt += 1
            try:
                self._attempt(path, Data)
                return
            except _Retry as retry:
                if attempt >= self._max_attempts:
                    raise retry.error from None
                scale = 1.0 if retry.throttled else 0.05
                self._sleep(random.random() * min(scale * 2 ** (attempt - 1), 20.0))  # jitter, as botocore's

    # ------------------------------------------------------------ one attempt

    def _attempt(self, path: str, data: bytes) -> None:
        headers = self._signed_headers(path, data)
        intercepted = self._intercepted(path, headers, data)
        if intercepted is not None:
            self._answer(intercepted.status_code, intercepted.headers, intercepted.content)
            return
        head = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        request = f"POST {path} HTTP/1.1\r\n{head}content-length: {len(data)}\r\n\r\n".encode() + data
        for fresh in (False, True):
            sock: socket.socket | None = None if fresh else getattr(self._local, "sock", None)
            reused = sock is not None
            try:
                if sock is None:
                    sock = self._local.sock = self._open()
                sock.sendall(request)  # one write: no second segment for the server to wait for
                response = http.client.HTTPResponse(sock, method="POST")
                response.begin()  # 1xx skipped; status and headers read
                body = response.read()  # chunked and close-delimited bodies included
            except _TRANSPORT_ERRORS as exc:
                if sock is not None:
                    sock.close()
                self._local.sock = None
                if reused and isinstance(exc, _STALE_CONNECTION_ERRORS):
                    continue  # the server closed the idle keep-alive connection: reopen, not a retry
                raise _Retry(False, EndpointConnectionError(endpoint_url=self._endpoint_url, error=exc)) from exc
            if response.will_close:  # the server said so, or the body ran to the end of the connection
                sock.close()
                self._local.sock = None
            self._answer(response.status, response.headers, body)
            return

    def _intercepted(self, path: str, headers: dict[str, str], data: bytes) -> Any:
        """A response from a ``before-send`` handler (moto, stubs), which botocore lets answer instead of the wire."""
        from botocore.awsrequest import AWSPreparedRequest
        from botocore.compat import HTTPHeaders

        http_headers = HTTPHeaders()
        for name, value in headers.items():
            http_headers[name] = value
        request = AWSPreparedRequest("POST", self._origin + path, http_headers, data, stream_output=False)
        for _handler, response in self._client.meta.events.emit(self._before_send_event, request=request):
            if response is not None:
                return response
        return None

    def _open(self) -> socket.socket:
        """A connection to the endpoint (TLS for https) under the connect timeout, then the read timeout."""
        sock = socket.create_connection((self._hostname, self._port), timeout=self._connect_timeout)
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # a post is one small write
            if self._ssl_context is not None:
                sock = self._ssl_context.wrap_socket(sock, server_hostname=self._hostname)
            sock.settimeout(self._read_timeout)
        except BaseException:
            sock.close()
            raise
        return sock

    def _answer(self, status: int, headers: Any, body: bytes) -> None:
        """Return on 2xx, else raise what boto3 raises (``headers``: http.client's or botocore's, both caseless)."""
        if 200 <= status < 300:
            return
        error_type = headers.get("x-amzn-errortype") or ""
        code = error_type.split(":", 1)[0] or _code_from_body(body) or f"HTTP{status}"
        error_response: Any = {
            "Error": {"Code": code, "Message": _message_from_body(body) or code},
            "ResponseMetadata": {
                "HTTPStatusCode": status,
                "RequestId": headers.get("x-amzn-requestid") or "",
                "HTTPHeaders": {k.lower(): v for k, v in headers.items()},
            },
        }
        exceptions = self._client.exceptions
        if status == 410:
            raise exceptions.GoneException(error_response, "PostToConnection")
        error_class: Any = exceptions.from_code(code)
        error: ClientError = error_class(error_response, "PostToConnection")
        if status == 429 or status >= 500 or code in _THROTTLING_CODES:
            raise _Retry(status == 429 or code in _THROTTLING_CODES, error)
        raise error

    # ------------------------------------------------------------ SigV4

    def _signing_key(self, secret_key: str, date: str) -> bytes:
        with self._keys_lock:
            if self._keys is not None and self._keys[0] == secret_key and self._keys[1] == date:
                return self._keys[2]
            key = _hmac(("AWS4" + secret_key).encode(), date)
            for part in (self._region, _SIGNING_SERVICE, "aws4_request"):
                key = _hmac(key, part)
            self._keys = (secret_key, date, key)
            return key

    def _now_stamp(self) -> str:
        """The current time as SigV4 writes it, formatted once a second."""
        second = int(time.time())
        cached = self._stamp
        if cached[0] != second:
            cached = self._stamp = (second, time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(second)))
        return cached[1]

    def _canonical_path(self, path: str) -> str:
        if path.startswith(self._posts_prefix):
            return self._canonical_posts_prefix + path[len(self._posts_prefix) :].replace("%", "%25")
        return quote(path, safe="/~")

    def _signed_headers(self, path: str, data: bytes, now: datetime | None = None) -> dict[str, str]:
        """The headers of a SigV4-signed POST to ``path`` (what botocore's SigV4Auth produces)."""
        credentials = self._credentials.get_frozen_credentials()
        stamp = now.strftime("%Y%m%dT%H%M%SZ") if now is not None else self._now_stamp()
        date = stamp[:8]
        headers = {"host": self._host_header, "x-amz-date": stamp}
        if credentials.token:
            headers["x-amz-security-token"] = credentials.token
        names = sorted(headers)
        canonical = "\n".join(
            [
                "POST",
                self._canonical_path(path),
                "",
                "".join(f"{name}:{headers[name].strip()}\n" for name in names),
                ";".join(names),
                hashlib.sha256(data).hexdigest() if data else _EMPTY_SHA256,
            ]
        )
        scope = f"{date}/{self._region}/{_SIGNING_SERVICE}/aws4_request"
        to_sign = f"AWS4-HMAC-SHA256\n{stamp}\n{scope}\n{hashlib.sha256(canonical.encode()).hexdigest()}"
        signature = hmac.new(
            self._signing_key(credentials.secret_key or "", date), to_sign.encode(), "sha256"
        ).hexdigest()
        headers["authorization"] = (
            f"AWS4-HMAC-SHA256 Credential={credentials.access_key}/{scope},"
            f" SignedHeaders={';'.join(names)}, Signature={signature}"
        )
        return headers


_STALE_CONNECTION_ERRORS = (
    http.client.RemoteDisconnected,
    http.client.BadStatusLine,
    BrokenPipeError,
    ConnectionResetError,
    ConnectionAbortedError,
)


def _hmac(key: bytes, message: str) -> bytes:
    return hmac.new(key, message.encode(), "sha256").digest()


def _environment_proxy(scheme: str, hostname: str) -> bool:
    proxies = urllib.request.getproxies()
    return bool(proxies.get(scheme)) and not urllib.request.proxy_bypass(hostname)


def _json_field(body: bytes, *names: str) -> str | None:
    try:
        parsed = json.loads(body) if body else None
    except ValueError:
        return None
    if isinstance(parsed, dict):
        for name in names:
            value = parsed.get(name)
            if isinstance(value, str):
                return value
    return None


def _code_from_body(body: bytes) -> str | None:
    code = _json_field(body, "__type", "code")
    return code.rsplit("#", 1)[-1] if code else None


def _message_from_body(body: bytes) -> str | None:
    return _json_field(body, "message", "Message")
