"""Settings and clients built from the environment: retries configured for throttling, only what each needs."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import boto3
import jwt
import pytest
from botocore.awsrequest import AWSResponse
from botocore.compat import HTTPHeaders
from chatcore import composition
from chatcore.aws.registry import ConnectionRegistry, create_table
from chatcore.composition import dynamodb_client, management_client
from chatcore.settings import Settings
from chatcore.tokens import Identity

from tests.conftest import MANAGEMENT_URL, TABLE
from tests.helpers.cold import LAYER
from tests.helpers.records import stored_connection


class _Raw:
    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_: Any) -> Any:
        yield self._body


def _throttle_first(count: int, calls: list[str]) -> Any:
    """A ``before-send`` hook answering the first ``count`` requests as DynamoDB throttling does."""

    def hook(request: Any, **_: Any) -> AWSResponse | None:
        calls.append(request.url)
        if len(calls) > count:
            return None  # on to moto
        body = json.dumps(
            {
                "__type": "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException",
                "message": "Rate of requests exceeds the allowed throughput",
            }
        ).encode()
        headers = HTTPHeaders()
        headers["Content-Type"] = "application/x-amz-json-1.0"
        return AWSResponse(request.url, 400, headers, _Raw(body))

    return hook


def test_dynamodb_throttling_is_retried_until_it_succeeds(aws: None) -> None:
    """Throttled DynamoDB calls are retried with backoff (adaptive mode), so the operation succeeds."""
    client = dynamodb_client(Settings())
    create_table(client, TABLE)
    calls: list[str] = []
    client.meta.events.register_first("before-send.dynamodb.PutItem", _throttle_first(3, calls))
    registry = ConnectionRegistry(client, TABLE)

    record = registry.add_connection("c-1", 7, "alice").record

    assert len(calls) == 4  # three throttled attempts, then success
    assert stored_connection(registry, "c-1") == record
    assert client.meta.config.retries["mode"] == "adaptive"  # type: ignore[attr-defined]  # unannotated in botocore


def test_management_client_retries_throttling_with_standard_mode(aws: None) -> None:
    """The Management API client retries 429/5xx (standard mode) and keeps one pool sized to the fan-out."""
    client = management_client(Settings(management_api_url=MANAGEMENT_URL, broadcast_max_workers=16))
    assert client.meta.config.retries["mode"] == "standard"
    assert client.meta.config.retries["total_max_attempts"] >= 4
    assert client.meta.config.max_pool_connections >= 16


def test_token_service_follows_a_rotated_signing_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    """The functions' token service reads the secret on every use, so a rotated key set reaches a warm container."""
    old = "old-signing-key-that-is-long-enough-0123456789"
    new = "new-signing-key-that-is-long-enough-9876543210"
    versions = {"value": json.dumps({"current": "2026-06", "keys": {"2026-06": old}})}
    read: list[str] = []

    def secret(arn: str) -> str:
        read.append(arn)
        return versions["value"]

    monkeypatch.setattr(composition, "_secret", secret)
    tokens = composition.build_tokens(Settings(token_secret_arn="arn:aws:secretsmanager:us-east-1:1:secret:token"))
    alice = Identity(7, "alice")
    before = tokens.issue(alice)

    versions["value"] = json.dumps({"current": "2026-12", "keys": {"2026-12": new, "2026-06": old}})
    after = tokens.issue(alice)

    assert [jwt.get_unverified_header(t)["kid"] for t in (before, after)] == ["2026-06", "2026-12"]
    assert tokens.verify(before) == alice and tokens.verify(after) == alice
    assert set(read) == {"arn:aws:secretsmanager:us-east-1:1:secret:token"} and len(read) >= 3


_REGISTRY_ONLY = """
import json, sys
from chatcore.composition import build_disconnect, build_pruner

fanout, pruner = build_disconnect(), build_pruner()
print(json.dumps({"built": [type(fanout).__name__, type(pruner).__name__],
                  "rows": "chatcore.rows" in sys.modules, "records": "chatcore.records" in sys.modules,
                  "tokens": "chatcore.tokens" in sys.modules,
                  "frames": sorted(name for name in sys.modules if name.startswith("chatcore.protocol."))}))
"""


def test_a_secret_is_read_once_per_warm_container_without_a_second_boto3_session(
    aws: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A secret comes from Secrets Manager once and then from the cache, through boto3's default session (a second
    session would parse botocore's files again on every cold start)."""
    client = boto3.client("secretsmanager", region_name="us-east-1")
    arn = client.create_secret(Name="chat/token-signing-key", SecretString="key-1")["ARN"]
    boto3.setup_default_session()
    sessions: list[object] = []
    original = boto3.session.Session.__init__

    def counted(self: boto3.session.Session, *args: Any, **kwargs: Any) -> None:
        sessions.append(self)
        original(self, *args, **kwargs)

    monkeypatch.setattr(boto3.session.Session, "__init__", counted)
    composition.secrets_provider.cache_clear()
    try:
        assert composition._secret(arn) == "key-1"
        requests: list[str] = []
        composition.secrets_provider().client.meta.events.register(
            "before-send", lambda request, **_: requests.append(request.url)
        )
        client.put_secret_value(SecretId=arn, SecretString="key-2")
        assert composition._secret(arn) == "key-1"  # served from the cache, as in a warm container
        assert requests == []
        assert sessions == []
    finally:
        composition.secrets_provider.cache_clear()


def test_functions_of_the_registry_alone_define_no_postgresql_row() -> None:
    """$disconnect and the prune schedule build from the registry's records only, never chatcore.rows' rows,
    without the token service, and with the presence frame alone (loading more would cost every such cold start for
    nothing)."""
    env = {
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": str(LAYER),
        "AWS_DEFAULT_REGION": "us-east-1",
        "CONNECTIONS_TABLE": TABLE,
        "MANAGEMENT_API_URL": MANAGEMENT_URL,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "POWERTOOLS_TRACE_DISABLED": "true",
    }
    done = subprocess.run(
        [sys.executable, "-c", _REGISTRY_ONLY], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert json.loads(done.stdout) == {
        "built": ["Fanout", "Pruner"],
        "rows": False,
        "records": True,
        "tokens": False,
        "frames": ["chatcore.protocol.base", "chatcore.protocol.presence"],
    }
