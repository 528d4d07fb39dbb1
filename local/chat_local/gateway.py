"""An API Gateway emulator: the WebSocket API, the HTTP API, the Management API and the static web UI.

It invokes the very same handlers as AWS does, with events of the same shape, and keeps API Gateway's
rules: route selection on ``$request.body.type`` with ``$default``, the upgrade refused when ``$connect``
answers non-2xx, frames over 128 KB refused (the connection closed with 1009), the idle timeout and the
maximum connection duration (closed with 1001, ``$disconnect`` invoked), the Management API's IAM
authorization (SigV4 by the stack's credentials, else 403: see :mod:`chat_local.sigv4`) and its
``410 GoneException`` for a connection it does not know.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import os
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from aiohttp import WSCloseCode, WSMsgType, web
from botocore.credentials import Credentials
from chatcore.fields import MAX_FRAME_BYTES
from chatcore.protocol import CLIENT_FRAME_TYPES

from chat_local.events import (
    SocketInfo,
    connect_event,
    disconnect_event,
    http_event,
    message_event,
    new_connection_id,
    now_ms,
)
from chat_local.lambdas import REPO_ROOT, LambdaFunction
from chat_local.s3front import S3Front
from chat_local.sigv4 import REGION, stack_credentials, verify

log = logging.getLogger("local_stack")

STAGE = "local"
WEB_DIR = REPO_ROOT / "web"


# Powertools' HTTP resolver keeps the current event in a class attribute (BaseRouter.current_event),
# shared by every copy of the module in this process; in Lambda each container is its own process.
# So the REST function runs one invocation at a time here, or requests would read each other's bodies.
_CONTAINER_LIMITS = {"rest": 1}


@dataclass
class GatewayConfig:
    """API Gateway's limits and the local switches; tests shorten the timeouts."""

    route_keys: frozenset[str] = CLIENT_FRAME_TYPES
    idle_timeout: float = 600.0
    max_connection_duration: float = 7200.0
    management_latency: float = 0.0
    """Seconds added to every Management API call, to imitate API Gateway's round trip."""
    max_frame_bytes: int = MAX_FRAME_BYTES
    max_containers: int = 32
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


@dataclass
class LocalConnection:
    info: SocketInfo
    socket: web.WebSocketResponse
    last_active: float = field(default_factory=time.monotonic)
    started: float = field(default_factory=time.monotonic)
    send_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    close_code: int | None = None
    close_reason: str = ""
    notify_disconnect: bool = True


class Gateway:
    """The emulator's state and its aiohttp application."""

    def __init__(
        self, config: GatewayConfig | None = None, *, web_dir: Path = WEB_DIR, s3: S3Front | None = None
    ) -> None:
        self.config = config or GatewayConfig()
        self.s3 = s3
        self.web_dir = web_dir.resolve()
        self.connections: dict[str, LocalConnection] = {}
        self._executor = ThreadPoolExecutor(
            max_workers=max(64, self.config.max_containers * 4), thread_name_prefix="lambda"
        )
        self.functions = {
            name: LambdaFunction(name, self._executor, _CONTAINER_LIMITS.get(name, self.config.max_containers))
            for name in ("connect", "message", "disconnect", "rest", "prune")
        }
        self._reaper: asyncio.Task[None] | None = None
        self._timers: list[asyncio.Task[None]] = []
        self._schedules: dict[str, Callable[[], Awaitable[Any]]] = {}
        self.management_faults: list[int] = []
        """HTTP statuses the next Management API posts answer with (429, 5xx), one each: fault injection."""
        self.app = self._build_app()

    # ------------------------------------------------------------ application

    def _build_app(self) -> web.Application:
        app = web.Application(client_max_size=10 * 1024 * 1024)
        app.router.add_get("/ws", self._websocket)
        app.router.add_post("/@connections/{connection_id}", self._post_to_connection)
        app.router.add_get("/@connections/{connection_id}", self._get_connection)
        app.router.add_delete("/@connections/{connection_id}", self._delete_connection)
        if self.config.test_endpoints:
            # POSTs take JSON bodies only: an HTML form on another site cannot send one (fetch would need
            # a CORS preflight, which /_local/* never grants).
            app.router.add_post("/_local/connections/{connection_id}/drop", _json_only(self._drop_connection))
            app.router.add_get("/_local/connections", self._list_connections)
            app.router.add_post("/_local/schedules/{name}", _json_only(self._trigger_schedule))
            app.router.add_post("/_local/faults", _json_only(self._set_faults))
        app.router.add_route("*", "/_local{tail:(/.*)?}", _not_found)  # anything else there, or all without the flag
        # (?s:...): a decoded path may hold a newline, and must still reach the function.
        app.router.add_route("*", "/api{tail:(/(?s:.*))?}", self._http_api)
        app.router.add_get("/openapi.json", self._http_api)  # the REST function's document, also at the root
        app.router.add_get("/config.json", self._web_config)
        if self.s3 is not None:  # the attachment bucket's presigned POST and GET, as S3 checks them
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
        # Close every socket as API Gateway would on a deployment: clients see 1001 and reconnect.
        await asyncio.gather(
            *(self.close_connection(cid, 1001, "Going away") for cid in list(self.connections)),
            return_exceptions=True,
        )

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)

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

    # ------------------------------------------------------------ WebSocket API

    async def _websocket(self, request: web.Request) -> web.StreamResponse:
        info = SocketInfo(
            connection_id=new_connection_id(),
            connected_at=now_ms(),
            source_ip=request.remote or "127.0.0.1",
            user_agent=request.headers.get("User-Agent", ""),
            domain_name=request.host,
            stage=STAGE,
        )
        multi_query = {key: request.query.getall(key) for key in request.query}
        event = connect_event(info, dict(request.headers), {k: v[-1] for k, v in multi_query.items()}, multi_query)
        status, _body = await self._invoke_ws("connect", "$connect", info, event)
        if not 200 <= status < 300:
            reason = {401: "Unauthorized", 403: "Forbidden"}.get(status, "Connection refused")
            return web.Response(status=status, text=reason)
        socket = web.WebSocketResponse(max_msg_size=self.config.max_frame_bytes * 8, autoping=True)
        await socket.prepare(request)
        connection = LocalConnection(info=info, socket=socket)
        self.connections[info.connection_id] = connection
        try:
            async for msg in socket:
                if msg.type not in (WSMsgType.TEXT, WSMsgType.BINARY):
                    continue
                data: str | bytes = msg.data
                size = len(data.encode("utf-8", "surrogatepass")) if isinstance(data, str) else len(data)
                if size > self.config.max_frame_bytes:
                    log.info(
                        "frame    %s refused: %d bytes > %d",
                        info.connection_id,
                        size,
                        self.config.max_frame_bytes,
                    )
                    connection.close_code, connection.close_reason = 1009, "Message too big"
                    await socket.close(code=WSCloseCode.MESSAGE_TOO_BIG, message=b"Message too big")
                    break
                connection.last_active = time.monotonic()
                body = data if isinstance(data, str) else data.decode("utf-8", "replace")
                await self._route_frame(connection, body)
        finally:
            self.connections.pop(info.connection_id, None)
            code = connection.close_code or socket.close_code or 1006
            if connection.notify_disconnect:
                reason = connection.close_reason or ("Client closed" if code in (1000, 1001) else "Abnormal")
                await self._invoke_ws("disconnect", "$disconnect", info, disconnect_event(info, code, reason))
            else:
                log.info("drop     %s (no $disconnect)", info.connection_id)
        return socket

    def _route_key(self, body: str) -> str:
        """The route for a frame: its ``type`` when that is a route key, else ``$default`` (not JSON too)."""
        try:
            parsed = json.loads(body)
        except (ValueError, RecursionError):  # nested deeper than the parser goes: still a frame for $default
            return "$default"
        kind = parsed.get("type") if isinstance(parsed, dict) else None
        return kind if isinstance(kind, str) and kind in self.config.route_keys else "$default"

    async def _route_frame(self, connection: LocalConnection, body: str) -> None:
        info = connection.info
        route = self._route_key(body)
        status, _ = await self._invoke_ws("message", route, info, message_event(info, route, body))
        if status >= 500:
            # What API Gateway tells the client when the integration fails.
            payload = {
                "message": "Internal server error",
                "connectionId": info.connection_id,
                "requestId": new_connection_id(),
            }
            await self.send(info.connection_id, json.dumps(payload).encode())

    async def _invoke_ws(self, function: str, route: str, info: SocketInfo, event: dict[str, Any]) -> tuple[int, Any]:
        started = time.monotonic()
        try:
            result = await self.functions[function].invoke(event)
        except Exception as exc:
            log.exception("%-8s %s route %s failed: %s", function, info.connection_id, route, exc)
            return 500, None
        status = int(result.get("statusCode", 200)) if isinstance(result, dict) else 200
        elapsed = (time.monotonic() - started) * 1000
        log.info("%-10s %s %s (%d ms)", route, info.connection_id, status, elapsed)
        return status, result

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
                    await self.close_connection(connection_id, 1001, "Going away")

    async def close_connection(self, connection_id: str, code: int, reason: str, *, notify: bool = True) -> bool:
        # Gone for the Management API at once (410), as in API Gateway, not only once the socket has wound down.
        connection = self.connections.pop(connection_id, None)
        if connection is None:
            return False
        connection.close_code, connection.close_reason = code, reason
        connection.notify_disconnect = notify
        if notify:
            await connection.socket.close(code=code, message=reason.encode())
        else:
            # Vanish without a close frame, the way a dropped network does.
            transport = connection.socket._req.transport if connection.socket._req else None
            if transport is not None:
                transport.abort()
            await connection.socket.close(code=code)
        return True

    async def send(self, connection_id: str, data: bytes) -> bool:
        connection = self.connections.get(connection_id)
        if connection is None or connection.socket.closed:
            return False
        try:
            async with connection.send_lock:
                await connection.socket.send_str(data.decode("utf-8", "replace"))
        except (ConnectionError, RuntimeError):
            return False
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
        if len(data) > self.config.max_frame_bytes:
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
        idle = time.monotonic() - connection.last_active
        # The wire names are camelCase; boto3 maps them to ConnectedAt, Identity.SourceIp, ...
        return web.json_response(
            {
                "connectedAt": _iso(connection.info.connected_at / 1000),
                "identity": {"sourceIp": connection.info.source_ip, "userAgent": connection.info.user_agent},
                "lastActiveAt": _iso(time.time() - idle),
            }
        )

    async def _delete_connection(self, request: web.Request) -> web.Response:
        await self._management_delay()
        if refused := await self._refusal(request):
            return refused
        connection_id = request.match_info["connection_id"]
        if not await self.close_connection(connection_id, 1000, "Connection deleted"):
            return self._gone(connection_id)
        return web.Response(status=204)

    async def _drop_connection(self, request: web.Request) -> web.Response:
        """Local only: lose a connection without ``$disconnect``, as AWS's best effort sometimes does."""
        connection_id = request.match_info["connection_id"]
        if not await self.close_connection(connection_id, 1006, "Dropped", notify=False):
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
        """Local only: the open connections (id, ``connectedAt``, ``identity``), for tests and debugging.

        Clients never learn a connection id from a frame; a test finds its own by the User-Agent it sent.
        """
        return web.json_response(
            [
                {
                    "connectionId": c.info.connection_id,
                    "connectedAt": c.info.connected_at,
                    "identity": {"sourceIp": c.info.source_ip, "userAgent": c.info.user_agent},
                }
                for c in self.connections.values()
            ]
        )

    # ------------------------------------------------------------ HTTP API

    async def _http_api(self, request: web.Request) -> web.StreamResponse:
        path = request.match_info.get("tail", request.path) or "/"
        if request.method == "OPTIONS":
            return web.Response(status=204, headers=_cors_headers(request, self.config.web_origins))
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
        )
        started = time.monotonic()
        try:
            result = await self.functions["rest"].invoke(event)
        except Exception:
            log.exception("http     %s %s failed", request.method, path)
            return web.json_response({"message": "Internal Server Error"}, status=500)
        response = _http_response(result)
        response.headers.update(_cors_headers(request, self.config.web_origins))
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


def _iso(epoch_seconds: float) -> str:
    return datetime.fromtimestamp(epoch_seconds, UTC).isoformat().replace("+00:00", "Z")


def _cors_headers(request: web.Request, allowed: frozenset[str]) -> dict[str, str]:
    """CORS for an allowed ``Origin`` only, as the deployed HTTP API's CorsConfiguration; nothing for others."""
    origin = request.headers.get("Origin")
    if not origin:
        return {}
    if origin not in allowed:
        return {"Vary": "Origin"}
    return {
        "Access-Control-Allow-Origin": origin,
        "Access-Control-Allow-Headers": "authorization,content-type",
        "Access-Control-Allow-Methods": "GET,POST,PATCH,DELETE,OPTIONS",
        "Vary": "Origin",
    }


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
    raw = base64.b64decode(body) if result.get("isBase64Encoded") else body.encode()
    response = web.Response(status=int(result["statusCode"]), body=raw)
    for name, value in (result.get("headers") or {}).items():
        response.headers[name] = str(value)
    for name, values in (result.get("multiValueHeaders") or {}).items():
        for value in values:
            response.headers.add(name, str(value))
    for cookie in result.get("cookies") or []:
        response.headers.add("Set-Cookie", cookie)
    return response
