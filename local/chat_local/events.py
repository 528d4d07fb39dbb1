"""Lambda events of the exact shape API Gateway sends, for WebSocket routes and HTTP API (payload 2.0)."""

from __future__ import annotations

import base64
import os
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

API_ID = "local0chat"
ACCOUNT_ID = "000000000000"


def new_connection_id() -> str:
    """An id in API Gateway's style (for example ``BFaT_fALIAMCKug=``: 11 bytes, the URL-safe alphabet).

    Clients put ids in URL paths (``/@connections/{id}``); boto3 encodes them, hand-written URLs may not.
    """
    return base64.urlsafe_b64encode(os.urandom(11)).decode()


def new_request_id() -> str:
    """A WebSocket request id in API Gateway's style (``R1knPH17NjMFftw=``), also its ``extendedRequestId``."""
    return base64.b64encode(os.urandom(11)).decode()


def _request_time(epoch_ms: int) -> str:
    return datetime.fromtimestamp(epoch_ms / 1000, UTC).strftime("%d/%b/%Y:%H:%M:%S +0000")


def now_ms() -> int:
    return int(time.time() * 1000)


@dataclass(frozen=True)
class SocketInfo:
    """What API Gateway knows about one WebSocket connection."""

    connection_id: str
    connected_at: int
    source_ip: str
    user_agent: str
    domain_name: str
    stage: str


def _ws_context(info: SocketInfo, route_key: str, event_type: str, request_id: str | None = None) -> dict[str, Any]:
    """The ``requestContext`` of a WebSocket event; ``requestId`` and ``extendedRequestId`` are one id, as in
    the events API Gateway sends (aws-lambda-go's and Powertools' captured events)."""
    epoch = now_ms()
    request_id = request_id or new_request_id()
    return {
        "routeKey": route_key,
        "eventType": event_type,
        "extendedRequestId": request_id,
        "requestTime": _request_time(epoch),
        "messageDirection": "IN",
        "stage": info.stage,
        "connectedAt": info.connected_at,
        "requestTimeEpoch": epoch,
        "identity": {"userAgent": info.user_agent, "sourceIp": info.source_ip},
        "requestId": request_id,
        "domainName": info.domain_name,
        "connectionId": info.connection_id,
        "apiId": API_ID,
    }


def _multi(headers: Mapping[str, str] | None) -> dict[str, list[str]]:
    return {k: [v] for k, v in (headers or {}).items()}


def connect_event(
    info: SocketInfo,
    headers: Mapping[str, str],
    query: Mapping[str, str],
    multi_query: Mapping[str, list[str]],
    request_id: str | None = None,
) -> dict[str, Any]:
    event: dict[str, Any] = {
        "headers": dict(headers),
        "multiValueHeaders": _multi(headers),
        "requestContext": _ws_context(info, "$connect", "CONNECT", request_id),
        "isBase64Encoded": False,
    }
    if query:
        event["queryStringParameters"] = dict(query)
        event["multiValueQueryStringParameters"] = {k: list(v) for k, v in multi_query.items()}
    return event


def message_event(info: SocketInfo, route_key: str, body: str, request_id: str | None = None) -> dict[str, Any]:
    context = _ws_context(info, route_key, "MESSAGE", request_id)
    context["messageId"] = new_request_id()
    return {"requestContext": context, "body": body, "isBase64Encoded": False}


def disconnect_event(info: SocketInfo, status_code: int, reason: str) -> dict[str, Any]:
    headers = {"Host": info.domain_name, "x-api-key": "", "X-Forwarded-For": "", "x-restapi": ""}
    context = _ws_context(info, "$disconnect", "DISCONNECT")
    context["disconnectStatusCode"] = status_code
    context["disconnectReason"] = reason
    return {
        "headers": headers,
        "multiValueHeaders": _multi(headers),
        "requestContext": context,
        "isBase64Encoded": False,
    }


def http_event(
    *,
    method: str,
    path: str,
    raw_query: str,
    query: Mapping[str, list[str]],
    headers: Mapping[str, str],
    body: bytes,
    source_ip: str,
    domain_name: str,
    route_key: str = "$default",
    path_parameters: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """An HTTP API payload-format-2.0 event for ``route_key`` (``$default`` or ``GET /x/{id}``) on ``$default``."""
    epoch = now_ms()
    lowered: dict[str, str] = {}
    cookies: list[str] = []
    for name, value in headers.items():
        key = name.lower()
        if key == "cookie":
            cookies.extend(part.strip() for part in value.split(";") if part.strip())
            continue
        lowered[key] = f"{lowered[key]},{value}" if key in lowered else value
    text: str | None
    is_base64 = False
    if not body:
        text = None
    else:
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            text, is_base64 = base64.b64encode(body).decode(), True
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": path,
        "rawQueryString": raw_query,
        "headers": lowered,
        "requestContext": {
            "accountId": ACCOUNT_ID,
            "apiId": API_ID,
            "domainName": domain_name,
            "domainPrefix": domain_name.split(".")[0],
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": source_ip,
                "userAgent": lowered.get("user-agent", ""),
            },
            "requestId": str(uuid.uuid4()),
            "routeKey": route_key,
            "stage": "$default",
            "time": _request_time(epoch),
            "timeEpoch": epoch,
        },
        "isBase64Encoded": is_base64,
    }
    if cookies:
        event["cookies"] = cookies
    if path_parameters:
        event["pathParameters"] = dict(path_parameters)
    if query:
        event["queryStringParameters"] = {k: ",".join(v) for k, v in query.items()}
    if text is not None:
        event["body"] = text
    return event


def schedule_event(rule_name: str, region: str = "us-east-1") -> dict[str, Any]:
    """The event an EventBridge schedule rule delivers to its target."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": ACCOUNT_ID,
        "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
        "resources": [f"arn:aws:events:{region}:{ACCOUNT_ID}:rule/{rule_name}"],
        "detail": {},
    }
