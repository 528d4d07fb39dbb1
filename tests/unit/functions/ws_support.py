"""Running the WebSocket handlers (connect, message, disconnect, prune) as Lambda would, inside moto.

Shared by ``test_{connect,message,disconnect,prune}_handler.py``: the environment a deployed function
gets, events from ``tests/events/*.json``, and the function's stdout read back as JSON log lines.
"""

from __future__ import annotations

import socket
from types import ModuleType
from typing import Any
from urllib.parse import quote

import pytest

from tests.conftest import MANAGEMENT_URL, TABLE, TOKEN_SECRET, delivered
from tests.helpers.events import load_event
from tests.helpers.handlers import context, load_handler

CONNECTION_ID = "TWegAdtZoAMCJ9g="
"""The connection id in the sample events."""

_UNSET = (
    "TOKEN_SECRET_ARN",
    "DATABASE_SECRET_ARN",
    "TOKEN_TTL_SECONDS",
    "ALLOWED_ORIGINS",
    "PRUNE_STALE_AFTER_SECONDS",
    "BROADCAST_MAX_WORKERS",
    "RATE_LIMIT_FRAMES",
    "RATE_LIMIT_MESSAGES",
    "RATE_LIMIT_TYPING",
    "POWERTOOLS_LOGGER_LOG_EVENT",
)


def configure(monkeypatch: pytest.MonkeyPatch, database_url: str | None) -> None:
    """The environment the stack gives a function (the ``aws`` fixture has set moto's credentials)."""
    monkeypatch.setenv("CONNECTIONS_TABLE", TABLE)
    monkeypatch.setenv("MANAGEMENT_API_URL", MANAGEMENT_URL)
    monkeypatch.setenv("TOKEN_SECRET", TOKEN_SECRET)
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "chat-tests")
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
    if database_url is None:
        monkeypatch.delenv("DATABASE_URL", raising=False)
    else:
        monkeypatch.setenv("DATABASE_URL", database_url)
    for name in _UNSET:
        monkeypatch.delenv(name, raising=False)


def unreachable_database_url() -> str:
    """A PostgreSQL URL on a local port where nothing listens (connecting fails at once)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"postgresql://postgres@127.0.0.1:{port}/chat"


def delivered_to(connection_id: str) -> list[dict[str, Any]]:
    """The frames moto's Management API received for ``connection_id``.

    Real ids end in ``=``; botocore percent-encodes it in the path and moto keys its store by the
    encoded path segment without decoding it.
    """
    return delivered(quote(connection_id, safe=""))


def invoke(module: ModuleType, function: str, event: dict[str, Any]) -> Any:
    return module.handler(event, context(function))


def fresh_handler(function: str) -> ModuleType:
    """The function's handler.py as a new module: a cold container with empty caches."""
    return load_handler(function)


def message_event(body: str, connection_id: str = CONNECTION_ID, route: str = "$default") -> dict[str, Any]:
    return load_event(
        "ws_message", body=body, requestContext__connectionId=connection_id, requestContext__routeKey=route
    )


def log_messages(lines: list[dict[str, Any]]) -> list[str]:
    """The ``message`` of each log line (metrics lines carry ``_aws`` instead)."""
    return [line["message"] for line in lines if "message" in line and "_aws" not in line]
