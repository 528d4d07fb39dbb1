"""``functions/connect``: the real handler module on moto's DynamoDB and a real PostgreSQL."""

from __future__ import annotations

import time
from typing import Any

import pytest
from chatcore.aws.registry import ConnectionRegistry
from chatcore.postgres.store import ChatStore
from chatcore.tokens import Identity, TokenService

from tests.conftest import TOKEN_SECRET
from tests.helpers.events import load_event
from tests.helpers.records import stored_connection
from tests.unit.functions.conftest import Logs
from tests.unit.functions.ws_support import (
    CONNECTION_ID,
    configure,
    delivered_to,
    fresh_handler,
    invoke,
    log_messages,
    unreachable_database_url,
)


@pytest.fixture
def alice(store: ChatStore) -> Identity:
    row = store.create_user("alice", "scrypt$16384$8$1$c2FsdA==$a2V5")
    return Identity(row.id, row.username)


def _connect_event(token: str | None) -> dict[str, Any]:
    event = load_event("ws_connect")
    if token is None:
        del event["queryStringParameters"], event["multiValueQueryStringParameters"]
    else:
        event["queryStringParameters"] = {"token": token}
        event["multiValueQueryStringParameters"] = {"token": [token]}
    return event


def test_valid_token_connects_and_binds_the_identity(
    monkeypatch: pytest.MonkeyPatch,
    database_url: str,
    registry: ConnectionRegistry,
    tokens: TokenService,
    alice: Identity,
    logs: Logs,
) -> None:
    """A valid ?token= answers 200 and stores the connection as the token's user; logs are JSON without the token."""
    configure(monkeypatch, database_url)
    token = tokens.issue(alice)

    assert invoke(fresh_handler("connect"), "connect", _connect_event(token)) == {"statusCode": 200}

    record = stored_connection(registry, CONNECTION_ID)
    assert record is not None and (record.user_id, record.username) == (alice.user_id, "alice")
    lines = logs()
    assert "connected" in log_messages(lines)
    connected = next(line for line in lines if line.get("message") == "connected")
    assert connected["level"] == "INFO" and connected["service"] == "chat"
    assert connected["connection_id"] == CONNECTION_ID and connected["user_id"] == alice.user_id
    assert connected["function_name"] == "connect"
    assert connected["correlation_id"] == "TWegAcC4IAMFbUg="
    assert all(token not in str(line) for line in lines)


@pytest.mark.parametrize("case", ["missing", "empty", "garbage", "forged", "expired", "deleted-user"])
def test_bad_tokens_are_refused_with_401(
    monkeypatch: pytest.MonkeyPatch,
    database_url: str,
    registry: ConnectionRegistry,
    alice: Identity,
    logs: Logs,
    case: str,
) -> None:
    """A missing, forged, expired or orphaned token answers 401, stores nothing and never logs the token."""
    configure(monkeypatch, database_url)
    token = {
        "missing": None,
        "empty": "",
        "garbage": "not-a-token",
        "forged": TokenService("another-secret-that-is-long-enough-xyz").issue(alice),
        "expired": TokenService(TOKEN_SECRET, ttl_seconds=60, clock=lambda: time.time() - 3600).issue(alice),
        "deleted-user": TokenService(TOKEN_SECRET).issue(Identity(alice.user_id + 100, "ghost")),
    }[case]

    reply = invoke(fresh_handler("connect"), "connect", _connect_event(token))

    assert reply["statusCode"] == 401
    assert stored_connection(registry, CONNECTION_ID) is None
    lines = logs()
    assert "connection refused" in log_messages(lines)
    assert not token or all(token not in str(line) for line in lines)


@pytest.mark.filterwarnings("ignore:No application metrics to publish")  # the 503 path records no metric
def test_database_down_answers_503(
    monkeypatch: pytest.MonkeyPatch, registry: ConnectionRegistry, tokens: TokenService, logs: Logs
) -> None:
    """With PostgreSQL unreachable a valid token gets 503 (retry later), not 401, and nothing is stored."""
    configure(monkeypatch, unreachable_database_url())
    token = tokens.issue(Identity(1, "alice"))

    reply = invoke(fresh_handler("connect"), "connect", _connect_event(token))

    assert reply["statusCode"] == 503
    assert stored_connection(registry, CONNECTION_ID) is None
    lines = logs()
    error = next(line for line in lines if line.get("message") == "database unavailable during connect")
    assert error["level"] == "ERROR" and "StoreUnavailable" in error["exception"]
    assert all(token not in str(line) for line in lines)


def test_foreign_origin_is_refused_with_403(
    monkeypatch: pytest.MonkeyPatch,
    database_url: str,
    registry: ConnectionRegistry,
    tokens: TokenService,
    alice: Identity,
    logs: Logs,
) -> None:
    """With ALLOWED_ORIGINS set, a browser page from another site cannot connect even with a valid token."""
    configure(monkeypatch, database_url)
    monkeypatch.setenv("ALLOWED_ORIGINS", "https://chat.example.org")
    event = _connect_event(tokens.issue(alice))  # the sample comes from https://chat.example.com

    assert invoke(fresh_handler("connect"), "connect", event)["statusCode"] == 403
    assert stored_connection(registry, CONNECTION_ID) is None
    assert "connection refused: origin not allowed" in log_messages(logs())


def test_connections_past_the_per_user_cap_are_refused_with_429(
    monkeypatch: pytest.MonkeyPatch, database_url: str, store: ChatStore, tokens: TokenService, dynamodb: Any
) -> None:
    """A user with MAX_CONNECTIONS_PER_USER open connections gets 429 for the next one; other users do not."""
    configure(monkeypatch, database_url)
    monkeypatch.setenv("MAX_CONNECTIONS_PER_USER", "2")
    alice = store.create_user("alice", "x")
    bob = store.create_user("bob", "x")
    module = fresh_handler("connect")
    replies = [
        invoke(
            module,
            "connect",
            load_event(
                "ws_connect",
                requestContext__connectionId=f"a{n}=",
                queryStringParameters={"token": tokens.issue(Identity(alice.id, "alice"))},
            ),
        )["statusCode"]
        for n in range(3)
    ]
    assert replies == [200, 200, 429]
    bob_event = load_event(
        "ws_connect",
        requestContext__connectionId="b0=",
        queryStringParameters={"token": tokens.issue(Identity(bob.id, "bob"))},
    )
    assert invoke(module, "connect", bob_event)["statusCode"] == 200


def test_connecting_subscribes_to_the_users_rooms_and_announces_them_online(
    monkeypatch: pytest.MonkeyPatch,
    database_url: str,
    store: ChatStore,
    tokens: TokenService,
    registry: ConnectionRegistry,
) -> None:
    """$connect subscribes the connection to every room of its user; the first connection tells their contacts."""
    configure(monkeypatch, database_url)
    alice, bob = store.create_user("alice", "x"), store.create_user("bob", "x")
    team = store.create_group("team", private=True, created_by=alice.id)
    store.add_member(team.id, bob.id)
    direct = store.get_or_create_direct(alice.id, bob.id)
    registry.subscribe(registry.add_connection("bob-1=", bob.id, "bob").record, team.id)
    module = fresh_handler("connect")
    event = load_event("ws_connect", queryStringParameters={"token": tokens.issue(Identity(alice.id, "alice"))})

    assert invoke(module, "connect", event) == {"statusCode": 200}

    assert sorted(c.connection_id for c in registry.room_connections(team.id)) == sorted([CONNECTION_ID, "bob-1="])
    assert [c.connection_id for c in registry.room_connections(direct.id)] == [CONNECTION_ID]
    assert [f for f in delivered_to("bob-1=") if f["type"] == "presence"] == [
        {"type": "presence", "user": "alice", "online": True}
    ]
    second = load_event(
        "ws_connect",
        requestContext__connectionId="alice-2=",
        queryStringParameters={"token": tokens.issue(Identity(alice.id, "alice"))},
    )
    assert invoke(module, "connect", second) == {"statusCode": 200}
    assert len([f for f in delivered_to("bob-1=") if f["type"] == "presence"]) == 1  # a second tab is not news
