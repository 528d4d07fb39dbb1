"""An API Gateway emulator: the WebSocket API, the HTTP API, the Management API and the static web UI.

What it serves comes from the synthesized template (:class:`chat_local.spec.LocalSpec`): the routes, the
route selection expression, each route's function, integration timeout and route response, the stages'
names and throttling. Each invocation runs in a warm container process of its function
(:mod:`chat_local.pool`). The rules are API Gateway's, each with a test in ``tests/fidelity/``:

* frames of one connection are dispatched concurrently, with no ordering (as API Gateway invokes them);
* frames over 32 KB, messages over 128 KB (fragmented) close the connection with 1009, binary frames with
  1003 (:mod:`chat_local.frames`); posts over 32 KB go out as several frames;
* route selection evaluates the expression on the JSON body (a non-string value is stringified; deep or
  invalid JSON goes to ``$default``; no route and no ``$default``: the ``Forbidden`` frame);
* an integration that fails (the handler raised, timed out, ran out of memory, was throttled) answers the
  ``Internal server error`` frame; one slower than the integration timeout (29 s, or the template's
  ``TimeoutInMillis``) the ``Endpoint request timed out`` frame; a returned 5xx sends nothing (route
  responses aside, which send the integration's body);
* ``$connect``: a non-2xx answer refuses the upgrade with that status, a failure with 502, a timeout
  with 504; a ``Sec-WebSocket-Protocol`` header it returns is the handshake's subprotocol;
* throttling by the stage's (or route's) rate and burst, the account's, and 500 new connections a second:
  429 on the upgrade, the ``Too Many Requests`` frame on a message;
* the idle timeout (reset by data either way) and the 2-hour maximum close with 1001; ``$disconnect`` gets
  the code and reason AWS reports (the client's own, 1005 for an empty close frame, 1000 "Connection Closed
  Normally" after a DELETE);
* the Management API at ``/{stage}/@connections/{id}`` (and ``/@connections/{id}``) verifies SigV4 by the
  stack's credentials (403 otherwise: :mod:`chat_local.sigv4`), answers ``410 GoneException`` for a
  connection it does not know and ``GET`` with the wire names (``connectedAt``, ``identity``,
  ``lastActiveAt``, millisecond timestamps).
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import os
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from aiohttp import WSMsgType, web
from botocore.credentials import Credentials

from chat_local.events import (
    SocketInfo,
    connect_event,
    disconnect_event,
    http_event,
    message_event,
    new_connection_id,
    new_request_id,
    now_ms,
)
from chat_local.frames import FRAME_BYTES, MESSAGE_BYTES, FrameGuard, text_frames
from chat_local.pool import FunctionPool, Functions, Invocation
from chat_local.s3front import S3Front
from chat_local.sigv4 import REGION, stack_credentials, verify
from chat_local.spec import ApiSpec, LocalSpec, RouteSpec
from chat_local.throttle import ACCOUNT, NEW_CONNECTIONS, Bucket, Throttles, bucket

log = logging.getLogger("local_stack")

REPO_ROOT = Path(__file__).resolve().parents[2]
WEB_DIR = REPO_ROOT / "web"
STAGE = "local"
"""The stage name when there is no template (the benchmarks' bare gateway)."""

#: The close codes and reasons ``$disconnect`` reports for what the gateway itself closes.
GOING_AWAY = (1001, "Going away")
DELETED = (1000, "Connection Closed Normally")
NO_STATUS = (1005, "Client-side close frame status not set")
ABNORMAL = (1006, "Connection Closed Abnormally")


@dataclass
class GatewayConfig:
    """API Gateway's limits and the local switches; tests shorten the timeouts."""

    idle_timeout: float = 600.0
    max_connection_duration: float = 7200.0
    management_latency: float = 0.0
    """Seconds added to every Management API call, to imitate API Gateway's round trip."""
    frame_bytes: int = FRAME_BYTES
    message_bytes: int = MESSAGE_BYTES
    credentials: Credentials = field(default_factory=lambda: stack_credentials(os.environ))
    """Whose SigV4 signatures the Management API accepts (the credentials the stack's functions sign with)."""
    region: str = REGION
    """The signing region of the Management API."""
    test_endpoints: bool = False
    """Serve ``/_local/*`` (``--test-endpoints``); without it they answer 404."""
    web_origins: frozenset[str] = frozenset()
    """The web origins the HTTP API answers CORS for (the UI's own and ``--allowed-origin``s); no others."""
    public_url: str | None = None
    """Where browsers reach the stack (``http://HOST:PORT`` or ``--public-url``): what ``config.json`` says."""
    account_throttle: Bucket | None = None
    """The account's request bucket (10,000 a second, burst 5,000), shared by both APIs."""
    connection_throttle: Bucket | None = None
    """The account's new-connection bucket (500 a second)."""


@dataclass
class LocalConnection:
    info: SocketInfo
    socket: web.WebSocketResponse
    last_active: float = field(default_factory=time.monotonic)
    last_active_epoch: float = field(default_factory=time.time)
    started: float = field(default_factory=time.monotonic)
    send_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    close_code: int | None = None
    close_reason: str = ""
    notify_disconnect: bool = True
    in_flight: int = 0
    """Frames received and not yet handled to the end (their answer, if any, sent)."""

    def landed(self, _task: asyncio.Task[Any]) -> None:
        self.in_flight -= 1

    def touch(self) -> None:
        """Data went either way: the idle timer starts again (and ``lastActiveAt`` moves)."""
        self.last_active = time.monotonic()
        self.last_active_epoch = time.time()


@dataclass
class Outcome:
    """What API Gateway makes of an integration: the invocation, or that the integration timeout passed."""

    invocation: Invocation | None
    timed_out: bool = False

    @property
    def ok(self) -> bool:
        return self.invocation is not None and self.invocation.ok

    @property
    def result(self) -> Any:
        return self.invocation.result if self.invocation is not None else None


def _status(result: Any) -> int:
    if isinstance(result, dict) and "statusCode" in result:
        try:
            return int(result["statusCode"])
        except (TypeError, ValueError):
            return 502
    return 200


def _header(result: Any, name: str) -> str | None:
    headers = result.get("headers") if isinstance(result, dict) else None
    if not isinstance(headers, dict):
        return None
    for key, value in headers.items():
        if key.lower() == name.lower():
            return str(value)
    return None


class RouteSelector:
    """``$request.body.<path>`` evaluated as API Gateway does, against a set of route keys."""

    _EXPRESSION = re.compile(r"^\$\{?request\.body\.([A-Za-z0-9_.$-]+)\}?$")

    def __init__(self, expression: str, route_keys: set[str]) -> None:
        match = self._EXPRESSION.match(expression.strip())
        self.path = match.group(1).split(".") if match else None
        self.keys = {k for k in route_keys if k not in ("$connect", "$disconnect")}

    def select(self, body: str) -> str | None:
        """The route for ``body``: the selected value if it is a route key, else ``$default`` (None: neither)."""
        value = self._evaluate(body)
        if value is not None and value in self.keys and value != "$default":
            return value
        return "$default" if "$default" in self.keys else None

    def _evaluate(self, body: str) -> str | None:
        if self.path is None:
            return None
        try:
            item: Any = json.loads(body)
        except (ValueError, RecursionError):  # not JSON, or nested deeper than the parser goes
            return None
        for step in self.path:
            if not isinstance(item, dict) or step not in item:
                return None
            item = item[step]
        if item is None:
            return None
        if isinstance(item, str):
            return item
        if isinstance(item, bool):
            return "true" if item else "false"
        return json.dumps(item, separators=(",", ":"))


class Gateway:
    """The emulator's state and its aiohttp application."""

    def __init__(
        self,
        config: GatewayConfig | None = None,
        spec: LocalSpec | None = None,
        *,
        web_dir: Path = WEB_DIR,
        s3: S3Front | None = None,
    ) -> None:
        self.config = config or GatewayConfig()
        self.spec = spec
        self.s3 = s3
        self.web_dir = web_dir.resolve()
        self.connections: dict[str, LocalConnection] = {}
        self.functions = Functions({})
        self._pools_by_id: dict[str, FunctionPool] = {}
        self.websocket: ApiSpec | None = spec.websocket if spec else None
        self.http: ApiSpec | None = spec.http if spec else None
        self.stage = self.websocket.stage if self.websocket else STAGE
        account = self.config.account_throttle or bucket(ACCOUNT)
        assert account is not None
        self._connections_bucket = self.config.connection_throttle or bucket(NEW_CONNECTIONS)
        self._ws_throttles = Throttles(
            {k: r.throttle for k, r in self.websocket.routes.items()} if self.websocket else {}, account
        )
        self._http_throttles = Throttles(
            {k: r.throttle for k, r in self.http.routes.items()} if self.http else {}, account
        )
        self._selector = (
            RouteSelector(self.websocket.route_selection_expression, set(self.websocket.routes))
            if self.websocket
            else None
        )
        self._reaper: asyncio.Task[None] | None = None
        self._timers: list[asyncio.Task[None]] = []
        self._tasks: set[asyncio.Task[Any]] = set()
        self._sockets: set[asyncio.Task[Any]] = set()
        """The tasks serving open WebSockets (each spawns its ``$disconnect`` as it ends)."""
        self._schedules: dict[str, Callable[[], Awaitable[Any]]] = {}
        self.management_faults: list[int] = []
        """HTTP statuses the next Management API posts answer with (429, 5xx), one each: fault injection."""
        self.app = self._build_app()

    def attach(self, functions: Functions) -> None:
        """The function pools (built once the gateway's address, which their environment names, is known)."""
        self.functions = functions
        self._pools_by_id = {pool.spec.logical_id: pool for pool in functions.pools.values()}
        functions.start()

    # ------------------------------------------------------------ application

    def _build_app(self) -> web.Application:
        app = web.Application(client_max_size=10 * 1024 * 1024)
        app.router.add_get("/ws", self._websocket)
        for prefix in ("", "/{stage}"):
            app.router.add_post(prefix + "/@connections/{connection_id}", self._post_to_connection)
            app.router.add_get(prefix + "/@connections/{connection_id}", self._get_connection)
            app.router.add_delete(prefix + "/@connections/{connection_id}", self._delete_connection)
        if self.config.test_endpoints:
            # POSTs take JSON bodies only: an HTML form on another site cannot send one (fetch would need
            # a CORS preflight, which /_local/* never grants).
            app.router.add_post("/_local/connections/{connection_id}/drop", _json_only(self._drop_connection))
            app.router.add_get("/_local/connections", self._list_connections)
            app.router.add_post("/_local/schedules/{name}", _json_only(self._trigger_schedule))
            app.router.add_post("/_local/faults", _json_only(self._set_faults))
            app.router.add_get("/_local/functions", self._list_functions)
        app.router.add_route("*", "/_local{tail:(/.*)?}", _not_found)  # anything else there, or all without the flag
        # (?s:...): a decoded path may hold a newline, and must still reach the function.
        app.router.add_route("*", "/api{tail:(/(?s:.*))?}", self._http_api)
        app.router.add_get("/openapi.json", self._http_api)  # the REST function's document, also at the root
        app.router.add_get("/config.json", self._web_config)
        if self.s3 is not None:  # the buckets' presigned POST and GET, as S3 checks them
            self.s3.add_routes(app)
        app.router.add_get("/{path:.*}", self._static)
        app.on_startup.append(self._on_startup)
        app.on_shutdown.append(self._on_shutdown)
        return app

    async def _on_startup(self, _app: web.Application) -> None:
        self._reaper = asyncio.create_task(self._reap_expired())

    async def _on_shutdown(self, _app: web.Application) -> None:
        for task in [self._reaper, *self._timers]:
            if task is not None:
                task.cancel()
        await self._close_all()

    async def _close_all(self) -> None:
        """Close every socket as API Gateway would on a deployment: clients see 1001 and reconnect."""
        await asyncio.gather(
            *(self.close_connection(cid, *GOING_AWAY) for cid in list(self.connections)),
            return_exceptions=True,
        )

    @staticmethod
    async def _settle(*groups: set[Any], grace: float) -> None:
        """Wait for the unfinished tasks of each group in turn, ``grace`` seconds at most in all."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + grace
        for group in groups:
            pending = [t for t in group if not t.done()]
            if pending and (left := deadline - loop.time()) > 0:
                await asyncio.wait(pending, timeout=left)

    async def drain(self, grace: float = 10.0) -> None:
        """Before the server stops: close every socket and let the ``$disconnect`` invocations that follow
        end while the Management API still answers their posts (presence to the others: 410 now, not a
        refused connection)."""
        await self._close_all()
        await self._settle(self._sockets, self._tasks, grace=grace)  # the sockets' ends spawn the $disconnects

    async def stop(self, grace: float = 10.0) -> None:
        """After the server stopped: let running invocations (the last ``$disconnect``s) end, then the containers."""
        await self._settle(self._tasks, grace=grace)
        for task in list(self._tasks):
            task.cancel()
        await self.functions.close()

    def close(self) -> None:
        """Nothing to release outside the event loop (:meth:`stop` ends the containers)."""

    def _spawn(self, coroutine: Awaitable[Any]) -> asyncio.Task[Any]:
        task = asyncio.ensure_future(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def add_timer(self, interval: float, action: Callable[[], Awaitable[Any]], name: str) -> None:
        """Run ``action`` every ``interval`` seconds while the gateway serves (an EventBridge schedule).

        ``POST /_local/schedules/{name}`` (with ``--test-endpoints``) runs it at once, so tests need not wait.
        """
        self._schedules[name] = action

        async def loop() -> None:
            while True:
                await asyncio.sleep(interval)
                await self._run_schedule(name)

        self._timers.append(asyncio.get_running_loop().create_task(loop()))

    async def _run_schedule(self, name: str) -> Any:
        started = time.monotonic()
        try:
            result = await self._schedules[name]()
        except Exception:
            log.exception("schedule %s failed", name)
            raise
        log.info("schedule   %s %s (%d ms)", name, result, (time.monotonic() - started) * 1000)
        return result

    async def _trigger_schedule(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        if name not in self._schedules:
            raise web.HTTPNotFound()
        try:
            result = await self._run_schedule(name)
        except Exception as exc:
            return web.json_response({"error": type(exc).__name__}, status=500)
        return web.json_response(result)

    # ------------------------------------------------------------ integrations

    async def _integrate(self, route: RouteSpec, event: dict[str, Any]) -> Outcome:
        """Invoke ``route``'s function; API Gateway stops waiting at the integration timeout, Lambda does not."""
        assert route.function is not None
        pool = self._pools_by_id[route.function]
        invocation = self._spawn(pool.invoke(event))
        try:
            return Outcome(await asyncio.wait_for(asyncio.shield(invocation), route.timeout))
        except TimeoutError:
            return Outcome(None, timed_out=True)

    def _gateway_frame(self, connection_id: str, message: str, request_id: str) -> bytes:
        """A frame API Gateway itself sends the client (``Internal server error``, ``Forbidden``, ...)."""
        return json.dumps({"message": message, "connectionId": connection_id, "requestId": request_id}).encode()

    # ------------------------------------------------------------ WebSocket API

    async def _websocket(self, request: web.Request) -> web.StreamResponse:
        if self.websocket is None:
            raise web.HTTPNotFound()
        if not self._pools_by_id and any(r.function for r in self.websocket.routes.values()):
            raise web.HTTPServiceUnavailable()  # still starting
        if (self._connections_bucket is not None and not self._connections_bucket.take()) or not (
            self._ws_throttles.admit("$connect")
        ):
            log.info("$connect   throttled (429)")
            return web.json_response({"message": "Too Many Requests"}, status=429)
        info = SocketInfo(
            connection_id=new_connection_id(),
            connected_at=now_ms(),
            source_ip=request.remote or "127.0.0.1",
            user_agent=request.headers.get("User-Agent", ""),
            domain_name=request.host,
            stage=self.stage,
        )
        subprotocol: str | None = None
        route = self.websocket.routes.get("$connect")
        if route is not None and route.function is not None:
            multi_query = {key: request.query.getall(key) for key in request.query}
            event = connect_event(info, dict(request.headers), {k: v[-1] for k, v in multi_query.items()}, multi_query)
            started = time.monotonic()
            outcome = await self._integrate(route, event)
            status = 504 if outcome.timed_out else 502 if not outcome.ok else _status(outcome.result)
            log.info("%-10s %s %s (%d ms)", "$connect", info.connection_id, status, (time.monotonic() - started) * 1000)
            if outcome.timed_out:
                return web.json_response({"message": "Endpoint request timed out"}, status=504)
            if not outcome.ok:
                return web.json_response({"message": "Internal server error"}, status=502)
            if not 200 <= status < 300:
                body = outcome.result.get("body") if isinstance(outcome.result, dict) else None
                reason = {401: "Unauthorized", 403: "Forbidden", 429: "Too Many Requests"}.get(status, "Refused")
                return web.Response(status=status, text=str(body) if body else reason)
            subprotocol = _header(outcome.result, "Sec-WebSocket-Protocol")
        socket = web.WebSocketResponse(
            protocols=(subprotocol,) if subprotocol else (), autoping=True, compress=False, max_msg_size=0
        )
        await socket.prepare(request)
        connection = LocalConnection(info=info, socket=socket)
        self._guard_frames(request, connection)
        self.connections[info.connection_id] = connection
        serving = asyncio.current_task()
        if serving is not None:
            self._sockets.add(serving)
            serving.add_done_callback(self._sockets.discard)
        try:
            while True:
                msg = await socket.receive()
                if msg.type == WSMsgType.TEXT:
                    connection.touch()
                    connection.in_flight += 1
                    task = self._spawn(self._route_frame(connection, msg.data))
                    task.add_done_callback(connection.landed)
                elif msg.type == WSMsgType.CLOSE:
                    if connection.close_code is None:  # the client closed: its code and reason, as AWS reports them
                        code, reason = (int(msg.data), str(msg.extra or "")) if msg.data else NO_STATUS
                        connection.close_code, connection.close_reason = code, reason
                    break
                elif msg.type in (WSMsgType.CLOSING, WSMsgType.CLOSED, WSMsgType.ERROR):
                    break
        finally:
            self.connections.pop(info.connection_id, None)
            if not socket.closed:
                await socket.close()
            code = connection.close_code or ABNORMAL[0]
            reason = connection.close_reason if connection.close_code else ABNORMAL[1]
            disconnect = self.websocket.routes.get("$disconnect")
            if not connection.notify_disconnect:
                log.info("drop       %s (no $disconnect)", info.connection_id)
            elif disconnect is not None and disconnect.function is not None:
                # Not awaited by anyone: the socket is gone whatever $disconnect does.
                self._spawn(self._disconnect(disconnect, info, code, reason))
        return socket

    async def _disconnect(self, route: RouteSpec, info: SocketInfo, code: int, reason: str) -> None:
        started = time.monotonic()
        outcome = await self._integrate(route, disconnect_event(info, code, reason))
        status = "timeout" if outcome.timed_out else _status(outcome.result) if outcome.ok else "failed"
        elapsed = (time.monotonic() - started) * 1000
        log.info("%-10s %s %s %s (%d ms)", "$disconnect", info.connection_id, code, status, elapsed)

    def _guard_frames(self, request: web.Request, connection: LocalConnection) -> None:
        """Put :class:`FrameGuard` in front of aiohttp's parser of this socket's frames."""
        protocol = request.protocol
        parser = getattr(protocol, "_payload_parser", None)
        if parser is None:
            log.warning("frame limits unavailable with this aiohttp: frames are not checked")
            return

        def violated(code: int, reason: str) -> None:
            log.info("frame      %s refused: closing with %d %s", connection.info.connection_id, code, reason)
            if connection.close_code is None:
                connection.close_code, connection.close_reason = code, reason
            self.connections.pop(connection.info.connection_id, None)  # gone for the Management API at once
            self._spawn(connection.socket.close(code=code, message=reason.encode()))

        protocol._payload_parser = FrameGuard(
            parser, violated, frame_bytes=self.config.frame_bytes, message_bytes=self.config.message_bytes
        )

    async def _route_frame(self, connection: LocalConnection, body: str) -> None:
        assert self.websocket is not None and self._selector is not None
        info = connection.info
        request_id = new_request_id()
        route_key = self._selector.select(body)
        if route_key is None:  # no route matches and there is no $default
            await self.send(info.connection_id, self._gateway_frame(info.connection_id, "Forbidden", request_id))
            return
        if not self._ws_throttles.admit(route_key):
            log.info("%-10s %s throttled", route_key, info.connection_id)
            message = self._gateway_frame(info.connection_id, "Too Many Requests", request_id)
            await self.send(info.connection_id, message)
            return
        route = self.websocket.routes[route_key]
        if route.function is None:
            return
        started = time.monotonic()
        outcome = await self._integrate(route, message_event(info, route_key, body, request_id))
        elapsed = (time.monotonic() - started) * 1000
        if outcome.timed_out:
            log.info("%-10s %s integration timeout (%d ms)", route_key, info.connection_id, elapsed)
            frame = self._gateway_frame(info.connection_id, "Endpoint request timed out", request_id)
            await self.send(info.connection_id, frame)
            return
        if not outcome.ok:
            invocation = outcome.invocation
            assert invocation is not None
            log.info("%-10s %s %s (%d ms)", route_key, info.connection_id, invocation.outcome, elapsed)
            # What API Gateway tells the client when the integration fails (not when it returns a 5xx).
            frame = self._gateway_frame(info.connection_id, "Internal server error", request_id)
            await self.send(info.connection_id, frame)
            return
        log.info("%-10s %s %s (%d ms)", route_key, info.connection_id, _status(outcome.result), elapsed)
        if route.two_way and isinstance(outcome.result, dict) and outcome.result.get("body") is not None:
            reply = outcome.result["body"]
            await self.send(info.connection_id, (reply if isinstance(reply, str) else json.dumps(reply)).encode())

    async def _reap_expired(self) -> None:
        """Close connections past the idle timeout or the maximum duration, as API Gateway does."""
        while True:
            interval = min(1.0, self.config.idle_timeout / 4, self.config.max_connection_duration / 4)
            await asyncio.sleep(max(0.05, interval))
            now = time.monotonic()
            for connection_id, connection in list(self.connections.items()):
                if (
                    now - connection.started >= self.config.max_connection_duration
                    or now - connection.last_active >= self.config.idle_timeout
                ):
                    await self.close_connection(connection_id, *GOING_AWAY)

    async def close_connection(
        self, connection_id: str, code: int, reason: str, *, notify: bool = True, client_reason: str | None = None
    ) -> bool:
        """Close a connection from the gateway's side; ``$disconnect`` gets ``code`` and ``reason``.

        Gone for the Management API at once (410), as in API Gateway, not only once the socket has wound
        down. The client's close frame carries ``client_reason`` (default: ``reason``).
        """
        connection = self.connections.pop(connection_id, None)
        if connection is None:
            return False
        connection.close_code, connection.close_reason = code, reason
        connection.notify_disconnect = notify
        if notify:
            text = reason if client_reason is None else client_reason
            await connection.socket.close(code=code, message=text.encode())
        else:
            # Vanish without a close frame, the way a dropped network does.
            transport = connection.socket._req.transport if connection.socket._req else None
            if transport is not None:
                transport.abort()
            await connection.socket.close(code=code)
        return True

    async def send(self, connection_id: str, data: bytes) -> bool:
        """Send ``data`` as one text message (frames of at most 32 KB); data out resets the idle timer too."""
        connection = self.connections.get(connection_id)
        if connection is None or connection.socket.closed:
            return False
        try:
            async with connection.send_lock:
                if len(data) <= self.config.frame_bytes:
                    await connection.socket.send_str(data.decode("utf-8", "replace"))
                else:
                    transport = connection.socket._req.transport if connection.socket._req else None
                    if transport is None or transport.is_closing():
                        return False
                    text = data.decode("utf-8", "replace").encode()
                    for frame in text_frames(text, self.config.frame_bytes):
                        transport.write(frame)
        except (ConnectionError, RuntimeError):
            return False
        connection.touch()
        return True

    # ------------------------------------------------------------ Management API

    def _gone(self, connection_id: str) -> web.Response:
        return web.json_response(
            {"message": f"Connection {connection_id} is gone"},
            status=410,
            headers={"x-amzn-ErrorType": "GoneException"},
        )

    async def _management_delay(self) -> None:
        if self.config.management_latency > 0:
            await asyncio.sleep(self.config.management_latency)

    async def _refusal(self, request: web.Request) -> web.Response | None:
        """API Gateway's IAM check of a Management API call: ``None`` when signed by the stack, else its 403."""
        stage = request.match_info.get("stage")
        if stage is not None and stage != self.stage:
            log.info("management %s %s refused: no stage %s", request.method, request.path, stage)
            forbidden = {"x-amzn-ErrorType": "ForbiddenException"}
            return web.json_response({"message": "Forbidden"}, status=403, headers=forbidden)
        refusal = verify(
            method=request.method,
            raw_path=request.raw_path,
            headers=request.headers.items(),
            body=await request.read(),
            credentials=self.config.credentials,
            region=self.config.region,
        )
        if refusal is None:
            return None
        log.info("management %s %s refused: %s", request.method, request.path, refusal.error_type)
        return web.json_response(
            {"message": refusal.message}, status=refusal.status, headers={"x-amzn-ErrorType": refusal.error_type}
        )

    async def _post_to_connection(self, request: web.Request) -> web.Response:
        await self._management_delay()
        if refused := await self._refusal(request):
            return refused
        if self.management_faults:
            status = self.management_faults.pop(0)
            code = "LimitExceededException" if status == 429 else "InternalServerErrorException"
            return web.json_response({"message": code}, status=status, headers={"x-amzn-ErrorType": code})
        connection_id = request.match_info["connection_id"]
        data = await request.read()
        if len(data) > self.config.message_bytes:
            return web.json_response(
                {"message": "Payload too large"},
                status=413,
                headers={"x-amzn-ErrorType": "PayloadTooLargeException"},
            )
        if not await self.send(connection_id, data):
            return self._gone(connection_id)
        return web.Response(status=200)

    async def _get_connection(self, request: web.Request) -> web.Response:
        await self._management_delay()
        if refused := await self._refusal(request):
            return refused
        connection_id = request.match_info["connection_id"]
        connection = self.connections.get(connection_id)
        if connection is None:
            return self._gone(connection_id)
        # The wire names are camelCase; boto3 maps them to ConnectedAt, Identity.SourceIp, ...
        return web.json_response(
            {
                "connectedAt": _iso_ms(connection.info.connected_at / 1000),
                "identity": {"sourceIp": connection.info.source_ip, "userAgent": connection.info.user_agent},
                "lastActiveAt": _iso_ms(connection.last_active_epoch),
            }
        )

    async def _delete_connection(self, request: web.Request) -> web.Response:
        await self._management_delay()
        if refused := await self._refusal(request):
            return refused
        connection_id = request.match_info["connection_id"]
        if not await self.close_connection(connection_id, *DELETED, client_reason=""):
            return self._gone(connection_id)
        return web.Response(status=204)

    async def _drop_connection(self, request: web.Request) -> web.Response:
        """Local only: lose a connection without ``$disconnect``, as AWS's best effort sometimes does."""
        connection_id = request.match_info["connection_id"]
        if not await self.close_connection(connection_id, *ABNORMAL, notify=False):
            return self._gone(connection_id)
        return web.Response(status=204)

    async def _set_faults(self, request: web.Request) -> web.Response:
        """Local only: make the next Management API posts fail, e.g. ``{"management": [429, 503]}``."""
        try:
            body = await request.json()
        except (ValueError, RecursionError):
            return web.json_response({"message": "the body is not JSON"}, status=400)
        statuses = body.get("management", []) if isinstance(body, dict) else []
        if not all(isinstance(s, int) and (s == 429 or 500 <= s <= 599) for s in statuses):
            return web.json_response({"message": "management faults must be 429 or 5xx"}, status=400)
        self.management_faults.extend(statuses)
        return web.json_response({"pending": len(self.management_faults)})

    async def _list_connections(self, _request: web.Request) -> web.Response:
        """Local only: the open connections (id, ``connectedAt``, ``identity``, frames in flight), for tests.

        Clients never learn a connection id from a frame; a test finds its own by the User-Agent it sent.
        ``inFlight`` is how many of its frames are still being handled: at 0 every answer has been sent.
        """
        return web.json_response(
            [
                {
                    "connectionId": c.info.connection_id,
                    "connectedAt": c.info.connected_at,
                    "identity": {"sourceIp": c.info.source_ip, "userAgent": c.info.user_agent},
                    "inFlight": c.in_flight,
                }
                for c in self.connections.values()
            ]
        )

    async def _list_functions(self, _request: web.Request) -> web.Response:
        """Local only: each function's pool (containers, their process ids, cold starts), for tests and debugging."""
        return web.json_response(
            {
                label: {
                    "coldStarts": pool.cold_starts,
                    "invocations": pool.invocations,
                    "limit": pool.limit,
                    "reserved": pool.reserved,
                    "timeout": pool.spec.timeout,
                    "memoryMb": pool.spec.memory_mb,
                    "containers": [
                        {"number": c.number, "pid": c.process.pid, "busy": c.busy, "invocations": c.invocations}
                        for c in pool.containers
                    ],
                }
                for label, pool in self.functions.pools.items()
            }
        )

    # ------------------------------------------------------------ HTTP API

    def _http_route(self, method: str, path: str) -> tuple[RouteSpec, dict[str, str]] | None:
        """The HTTP API route for ``method path`` (its ``METHOD /path/{param}`` keys, then ``$default``)."""
        assert self.http is not None
        for key, route in self.http.routes.items():
            if key == "$default":
                continue
            verb, _, pattern = key.partition(" ")
            if verb not in (method, "ANY"):
                continue
            parameters = _match_path(pattern, path)
            if parameters is not None:
                return route, parameters
        default = self.http.routes.get("$default")
        return (default, {}) if default is not None else None

    async def _http_api(self, request: web.Request) -> web.StreamResponse:
        if self.http is None:
            raise web.HTTPNotFound()
        path = request.match_info.get("tail", request.path) or "/"
        cors = _cors_headers(request, self.config.web_origins, self.http.cors)
        if request.method == "OPTIONS" and self.http.cors is not None and request.headers.get("Origin"):
            return web.Response(status=204, headers=cors)  # API Gateway answers the preflight itself
        found = self._http_route(request.method, path)
        if found is None or found[0].function is None:
            return web.json_response({"message": "Not Found"}, status=404, headers=cors)
        route, parameters = found
        if not self._http_throttles.admit(route.key):
            return web.json_response({"message": "Too Many Requests"}, status=429, headers=cors)
        if not self._pools_by_id:
            raise web.HTTPServiceUnavailable()
        body = await request.read()
        event = http_event(
            method=request.method,
            path=path,
            raw_query=request.query_string,
            query={key: request.query.getall(key) for key in request.query},
            headers=dict(request.headers),
            body=body,
            source_ip=request.remote or "127.0.0.1",
            domain_name=request.host,
            route_key=route.key,
            path_parameters=parameters,
        )
        started = time.monotonic()
        outcome = await self._integrate(route, event)
        if outcome.timed_out:
            response = web.json_response({"message": "Service Unavailable"}, status=503)
        elif not outcome.ok:
            response = web.json_response({"message": "Internal Server Error"}, status=500)
        else:
            response = _http_response(outcome.result)
        response.headers.update(cors)
        log.info(
            "http       %s %s %d (%d ms)",
            request.method,
            path,
            response.status,
            (time.monotonic() - started) * 1000,
        )
        return response

    # ------------------------------------------------------------ static web UI

    async def _web_config(self, _request: web.Request) -> web.Response:
        """Where the UI finds the APIs: from the configured address, never from the request's Host header."""
        if self.config.public_url is None:  # only before the stack has finished starting
            raise web.HTTPServiceUnavailable()
        base = self.config.public_url.rstrip("/")
        parts = urlsplit(base)
        ws_scheme = "wss" if parts.scheme == "https" else "ws"
        return web.json_response(
            {"apiUrl": f"{base}/api", "wsUrl": f"{ws_scheme}://{parts.netloc}{parts.path}/ws"},
            headers={"Cache-Control": "no-store"},
        )

    async def _static(self, request: web.Request) -> web.StreamResponse:
        relative = request.match_info["path"] or "index.html"
        target = (self.web_dir / relative).resolve()
        if target.is_dir():
            target = target / "index.html"
        if not target.is_relative_to(self.web_dir) or not target.is_file():
            raise web.HTTPNotFound()
        return web.FileResponse(target, headers={"Cache-Control": "no-cache"})


def _iso_ms(epoch_seconds: float) -> str:
    """An ISO 8601 UTC timestamp with milliseconds, as the Management API writes them."""
    moment = datetime.fromtimestamp(epoch_seconds, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _match_path(pattern: str, path: str) -> dict[str, str] | None:
    """The path parameters of ``path`` against an HTTP API route path (``/items/{id}``, ``/{proxy+}``)."""
    wanted, parts = pattern.strip("/").split("/"), path.strip("/").split("/")
    parameters: dict[str, str] = {}
    for index, segment in enumerate(wanted):
        if segment.startswith("{") and segment.endswith("+}"):
            parameters[segment[1:-2]] = "/".join(parts[index:])
            return parameters if index < len(parts) and parts[index] else None
        if index >= len(parts):
            return None
        if segment.startswith("{") and segment.endswith("}"):
            parameters[segment[1:-1]] = parts[index]
        elif segment != parts[index]:
            return None
    return parameters if len(parts) == len(wanted) else None


def _cors_headers(request: web.Request, allowed: frozenset[str], cors: dict[str, Any] | None) -> dict[str, str]:
    """CORS as the HTTP API's ``CorsConfiguration`` (its methods, headers, max age) for the local origins only."""
    origin = request.headers.get("Origin")
    if not origin or cors is None:
        return {}
    if origin not in allowed:
        return {"Vary": "Origin"}
    headers = {
        "Access-Control-Allow-Origin": origin,
        "Access-Control-Allow-Headers": ",".join(cors.get("AllowHeaders", [])),
        "Access-Control-Allow-Methods": ",".join(cors.get("AllowMethods", [])),
        "Vary": "Origin",
    }
    if cors.get("MaxAge") is not None:
        headers["Access-Control-Max-Age"] = str(cors["MaxAge"])
    if cors.get("AllowCredentials"):
        headers["Access-Control-Allow-Credentials"] = "true"
    return headers


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _json_only(handler: Handler) -> Handler:
    """``handler`` for ``Content-Type: application/json`` requests only; 415 for anything else."""

    async def wrapped(request: web.Request) -> web.StreamResponse:
        if request.content_type != "application/json":
            return web.json_response({"message": "Content-Type must be application/json"}, status=415)
        return await handler(request)

    return wrapped


async def _not_found(_request: web.Request) -> web.StreamResponse:
    raise web.HTTPNotFound()


def _http_response(result: Any) -> web.Response:
    """API Gateway's mapping of an HTTP API (2.0) Lambda result to an HTTP response."""
    if not isinstance(result, dict) or "statusCode" not in result:
        return web.json_response(result)
    body = result.get("body") or ""
    raw = base64.b64decode(body) if result.get("isBase64Encoded") else str(body).encode()
    response = web.Response(status=_status(result), body=raw)
    for name, value in (result.get("headers") or {}).items():
        response.headers[name] = str(value)
    for name, values in (result.get("multiValueHeaders") or {}).items():
        for value in values:
            response.headers.add(name, str(value))
    for cookie in result.get("cookies") or []:
        response.headers.add("Set-Cookie", cookie)
    return response
