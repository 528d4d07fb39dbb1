"""Calling the REST handler the way API Gateway does, with events from ``tests/events/http_api.json``."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from functools import cache
from types import ModuleType
from typing import Any
from urllib.parse import urlencode

from chatcore.passwords import hash_password
from chatcore.postgres.store import ChatStore
from chatcore.rows import UserRow
from chatcore.tokens import Identity, TokenService

from tests.helpers.events import load_event
from tests.helpers.handlers import context

_NO_BODY = object()


@cache
def password_hash() -> str:
    """One argon2id hash shared by users made straight in the store (hashing costs ~60 ms)."""
    return hash_password("correct horse battery")


@dataclass
class Reply:
    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)
    text: str = ""


class Rest:
    """A fresh REST handler module (a cold container) and helpers to call it and to make users."""

    def __init__(self, module: ModuleType, store: ChatStore, tokens: TokenService) -> None:
        self.module, self.store, self.tokens = module, store, tokens

    def call(
        self,
        method: str,
        path: str,
        body: Any = _NO_BODY,
        *,
        token: str | None = None,
        query: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
        raw_body: bytes | str | None = None,
        source_ip: str | None = None,
    ) -> Reply:
        event = load_event(
            "http_api",
            rawPath=path,
            rawQueryString=urlencode(query or {}),
            requestContext__http__method=method,
            requestContext__http__path=path,
        )
        if source_ip is not None:
            event["requestContext"]["http"]["sourceIp"] = source_ip
        event["headers"].update({k.lower(): v for k, v in (headers or {}).items()})
        if token is not None:
            event["headers"]["authorization"] = f"Bearer {token}"
        if query:
            event["queryStringParameters"] = dict(query)
        if isinstance(raw_body, bytes):
            event["body"], event["isBase64Encoded"] = base64.b64encode(raw_body).decode(), True
        elif raw_body is not None:
            event["body"] = raw_body
        elif body is not _NO_BODY:
            event["body"] = json.dumps(body)
        result = self.module.handler(event, context("rest"))
        text = result.get("body") or ""
        if result.get("isBase64Encoded"):
            text = base64.b64decode(text).decode()
        return Reply(result["statusCode"], json.loads(text) if text else None, result.get("headers") or {}, text)

    def user(self, username: str, *, nickname: str | None = None) -> Identity:
        """A user made straight in the store (no password hashing per user)."""
        row = self.store.create_user(username, password_hash(), nickname=nickname)
        return Identity(row.id, row.username)

    def token(self, who: Identity) -> str:
        return self.tokens.issue(who)

    def row(self, who: Identity) -> UserRow:
        row = self.store.get_user(who.user_id)
        assert row is not None
        return row


def assert_error(reply: Reply, status: int, message: str | None = None) -> None:
    """``reply`` is the API's error body with ``status`` (and ``message`` when given)."""
    assert reply.status == status, reply
    assert reply.body["statusCode"] == status, reply
    if message is not None:
        assert reply.body["message"] == message, reply
    assert "Traceback" not in reply.text


def assert_invalid(reply: Reply, field_name: str) -> None:
    """A 422 naming ``field_name`` among the invalid fields, each with a message."""
    assert_error(reply, 422, "Invalid request")
    fields = [e["field"] for e in reply.body["errors"]]
    assert field_name in fields, reply.body
    assert all(e["message"] for e in reply.body["errors"])
