"""A Management API client whose ``post_to_connection`` sends the SigV4-signed request itself.

boto3's generic machinery costs several times more CPU per post than the post itself (see
``bench/results/RESULTS.md``); this client keeps boto3's answers (errors, retries) at a fraction of the cost.
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

import urllib3
from botocore.exceptions import ClientError, EndpointConnectionError
from urllib3.exceptions import HTTPError as Urllib3Error
from urllib3.exceptions import ProtocolError

if TYPE_CHECKING:
    from botocore.credentials import Credentials
    from mypy_boto3_apigatewaymanagementapi import ApiGatewayManagementApiClient


_SIGNING_SERVICE = "execute-api"
_EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
_THROTTLING_CODES = frozenset({"LimitExceededException", "ThrottlingException", "TooManyRequestsException"})
#: Transport failures worth another attempt, as botocore's standard retry mode treats them.
_TRANSPORT_ERRORS = (OSError, http.client.HTTPException, Urllib3Error)


class _Retry(Exception):
    """One attempt failed in a way the standard retry mode retries (429, 5xx, a transport error)."""

    def __init__(self, throttled: bool, error: BaseException) -> None:
        super().__init__(str(error))
        self.throttled = throttled
        self.error = error


class SignedManagementClient:
    """A Management API client whose ``post_to_connection`` skips boto3's per-call machinery.

    It sends the same request boto3 sends -- ``POST <endpoint>/@connections/<id>`` signed with SigV4 for
    ``execute-api`` -- in one write over a keep-alive HTTP/1.1 connection per thread (Nagle off, TLS for
    https with the system's trust store or ``AWS_CA_BUNDLE``), and answers the way
    the wrapped boto3 client does: ``None`` on success, ``GoneException`` for 410, the modelled
    ``ClientError`` subclass for other error statuses, ``EndpointConnectionError`` when the endpoint
    cannot be reached. Throttling (429) and 5xx answers and transport errors are retried with botocore's
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
        max_pool_connections: int | None = None,
        transport: str = "urllib3",
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
        if transport not in ("urllib3", "socket", "http.client"):
            raise ValueError(f"unknown transport {transport!r}")
        self.transport = transport
        # One pool sized to the broadcast's workers (botocore's max_pool_connections, which the composition
        # root sets to them), so every worker thread keeps its keep-alive connection between posts.
        pool_size = max_pool_connections or getattr(client.meta.config, "max_pool_connections", None) or 10
        pool_options: dict[str, Any] = {
            "maxsize": pool_size,
            "block": False,
            "timeout": urllib3.Timeout(connect=connect_timeout, read=read_timeout),
            "retries": False,  # our own backoff (botocore's standard mode) decides, see post_to_connection
        }
        self._pool: urllib3.HTTPConnectionPool = (
            urllib3.HTTPSConnectionPool(self._hostname, self._port, ssl_context=self._ssl_context, **pool_options)
            if self._secure
            else urllib3.HTTPConnectionPool(self._hostname, self._port, **pool_options)
        )
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
        if self.transport == "urllib3":
            self._answer(*self._exchange_urllib3(path, headers, data))
        elif self.transport == "http.client":
            self._answer(*self._exchange_httpclient(path, headers, data))
        else:
            self._answer(*self._exchange_socket(path, headers, data))

    def _exchange_urllib3(self, path: str, headers: dict[str, str], data: bytes) -> tuple[int, Any, bytes]:
        for fresh in (False, True):
            try:
                response = self._pool.urlopen(
                    "POST",
                    path,
                    body=data,
                    headers=headers,
                    retries=False,
                    redirect=False,
                    assert_same_host=False,
                    preload_content=True,
                )
            except _TRANSPORT_ERRORS as exc:
                if not fresh and _stale(exc):
                    continue  # the server closed an idle keep-alive connection: reopen, not a retry
                raise _Retry(False, EndpointConnectionError(endpoint_url=self._endpoint_url, error=exc)) from exc
            return response.status, response.headers, response.data
        raise AssertionError("unreachable")  # pragma: no cover

    def _exchange_httpclient(self, path: str, headers: dict[str, str], data: bytes) -> tuple[int, Any, bytes]:
        for fresh in (False, True):
            connection: http.client.HTTPConnection | None = None if fresh else getattr(self._local, "http", None)
            reused = connection is not None
            try:
                if connection is None:
                    connection = self._local.http = (
                        http.client.HTTPSConnection(
                            self._hostname, self._port, timeout=self._connect_timeout, context=self._ssl_context
                        )
                        if self._secure
                        else http.client.HTTPConnection(self._hostname, self._port, timeout=self._connect_timeout)
                    )
                if connection.sock is None:  # new, or closed after a response that ended the connection
                    connection.connect()
                    connection.sock.settimeout(self._read_timeout)
                connection.request("POST", path, body=data, headers=headers)
                response = connection.getresponse()
                body = response.read()
            except _TRANSPORT_ERRORS as exc:
                if connection is not None:
                    connection.close()
                self._local.http = None
                if reused and isinstance(exc, _STALE_CONNECTION_ERRORS):
                    continue  # the server closed the idle keep-alive connection: reopen, not a retry
                raise _Retry(False, EndpointConnectionError(endpoint_url=self._endpoint_url, error=exc)) from exc
            return response.status, response.headers, body
        raise AssertionError("unreachable")  # pragma: no cover

    def _exchange_socket(self, path: str, headers: dict[str, str], data: bytes) -> tuple[int, Any, bytes]:
        request = _request_bytes(path, headers, data)
        for fresh in (False, True):
            channel: _Channel | None = None if fresh else getattr(self._local, "channel", None)
            reused = channel is not None
            try:
                if channel is None:
                    channel = self._local.channel = self._open()
                status, response_headers, body = channel.exchange(request)
            except _TRANSPORT_ERRORS as exc:
                self._drop(channel)
                if reused and isinstance(exc, _STALE_CONNECTION_ERRORS):
                    continue  # the server closed the idle keep-alive connection: reopen, not a retry
                raise _Retry(False, EndpointConnectionError(endpoint_url=self._endpoint_url, error=exc)) from exc
            if not channel.keep_alive:
                self._drop(channel)
            return status, response_headers, body
        raise AssertionError("unreachable")  # pragma: no cover

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

    def _open(self) -> _Channel:
        """A new connection for this thread: Nagle off (a request is one write), TLS when https."""
        sock = socket.create_connection((self._hostname, self._port), timeout=self._connect_timeout)
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if self._ssl_context is not None:
                sock = self._ssl_context.wrap_socket(sock, server_hostname=self._hostname)
            sock.settimeout(self._read_timeout)
        except BaseException:
            sock.close()
            raise
        return _Channel(sock)

    def _drop(self, channel: _Channel | None) -> None:
        if channel is not None:
            channel.close()
        if getattr(self._local, "channel", None) is channel:
            self._local.channel = None

    def _answer(self, status: int, headers: Any, body: bytes) -> None:
        """Return on 2xx, else raise what boto3 raises (``headers``: lower-cased names, or botocore's)."""
        if 200 <= status < 300:
            return
        error_type = headers.get("x-amzn-errortype") or headers.get("x-amzn-ErrorType") or ""
        code = error_type.split(":", 1)[0] or _code_from_body(body) or f"HTTP{status}"
        error_response: Any = {
            "Error": {"Code": code, "Message": _message_from_body(body) or code},
            "ResponseMetadata": {
                "HTTPStatusCode": status,
                "RequestId": headers.get("x-amzn-requestid") or headers.get("x-amzn-RequestId") or "",
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


def _request_bytes(path: str, headers: dict[str, str], data: bytes) -> bytes:
    """The whole HTTP/1.1 request, so that it leaves in one write."""
    lines = [f"POST {path} HTTP/1.1"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    lines.append(f"content-length: {len(data)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + data


class _Channel:
    """One keep-alive HTTP/1.1 connection: the socket and a buffered reader of its responses."""

    _MAX_LINE = 65536

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.reader = sock.makefile("rb")
        self.keep_alive = True

    def close(self) -> None:
        self.keep_alive = False
        self.reader.close()
        self.sock.close()

    def _line(self) -> bytes:
        line = self.reader.readline(self._MAX_LINE + 1)
        if len(line) > self._MAX_LINE:
            raise http.client.LineTooLong("response line")
        return line

    def exchange(self, request: bytes) -> tuple[int, dict[str, str], bytes]:
        """Send ``request`` and read the response: status, headers (lower-cased names), body."""
        self.sock.sendall(request)
        while True:
            status_line = self._line()
            if not status_line:
                raise http.client.RemoteDisconnected("the server closed the connection without a response")
            version, _, rest = status_line.partition(b" ")
            if not version.startswith(b"HTTP/") or not rest[:3].isdigit():
                raise http.client.BadStatusLine(repr(status_line))
            status = int(rest[:3])
            headers: dict[str, str] = {}
            while (line := self._line()) not in (b"\r\n", b"\n"):
                if not line:
                    raise http.client.IncompleteRead(b"", None)
                name, _, value = line.partition(b":")
                headers[name.strip().lower().decode("latin-1")] = value.strip().decode("latin-1")
            if status >= 200:  # a 1xx interim answer is followed by the real one
                break
        self.keep_alive = version == b"HTTP/1.1" and headers.get("connection", "").lower() != "close"
        return status, headers, self._body(status, headers)

    def _body(self, status: int, headers: dict[str, str]) -> bytes:
        if status in (204, 304):
            return b""
        if "chunked" in headers.get("transfer-encoding", "").lower():
            chunks = []
            while size := int(self._line().split(b";", 1)[0].strip() or b"0", 16):
                chunks.append(self._exactly(size))
                self._line()
            while self._line() not in (b"\r\n", b"\n", b""):  # trailers
                pass
            return b"".join(chunks)
        if "content-length" in headers:
            return self._exactly(int(headers["content-length"]))
        self.keep_alive = False  # the body runs to the end of the connection
        return self.reader.read()

    def _exactly(self, size: int) -> bytes:
        data = self.reader.read(size)
        if len(data) < size:
            raise http.client.IncompleteRead(data, size - len(data))
        return data


_STALE_CONNECTION_ERRORS = (
    http.client.RemoteDisconnected,
    http.client.BadStatusLine,
    BrokenPipeError,
    ConnectionResetError,
    ConnectionAbortedError,
)


def _stale(exc: BaseException) -> bool:
    """Whether urllib3's error is a connection the server closed before answering (``ProtocolError`` wraps it)."""
    cause = exc.args[1] if isinstance(exc, ProtocolError) and len(exc.args) > 1 else exc
    return isinstance(cause, _STALE_CONNECTION_ERRORS)


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
