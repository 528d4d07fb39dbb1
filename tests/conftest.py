"""Shared fixtures: a real embedded PostgreSQL, moto's DynamoDB and Management API, the chat service."""

from __future__ import annotations

import itertools
import os
import shutil
import tempfile
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from chat_local.postgres import EmbeddedPostgres
from chatcore.aws.broadcaster import Broadcaster
from chatcore.aws.files import FileBucket
from chatcore.aws.registry import ConnectionRegistry, create_table
from chatcore.composition import s3_client
from chatcore.postgres.database import Database
from chatcore.postgres.migrate import apply_migrations
from chatcore.postgres.store import ChatStore
from chatcore.service.chat import ChatService
from chatcore.service.fanout import Fanout
from chatcore.service.gate import ConnectionGate
from chatcore.settings import Settings
from chatcore.tokens import TokenService
from moto import mock_aws

from tests.helpers.clients import Api, ChatClient
from tests.helpers.stack import StackProcess

TABLE = "chat-connections-test"
MANAGEMENT_URL = "https://abc123.execute-api.us-east-1.amazonaws.com/test"
TOKEN_SECRET = "test-signing-secret-that-is-long-enough-0123456789"
_database_numbers = itertools.count()


@pytest.fixture(scope="session")
def tmp_root() -> Iterator[Path]:
    """A scratch folder outside /root (embedded PostgreSQL opens its parents to its own user)."""
    root = Path(tempfile.mkdtemp(prefix="chat-tests-", dir="/tmp"))
    yield root
    if not os.environ.get("KEEP_TEST_FILES"):  # set it to read the stacks' logs after a failure
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def pg_server(tmp_root: Path) -> Iterator[EmbeddedPostgres]:
    """One embedded PostgreSQL for the session, with a migrated template database."""
    server = EmbeddedPostgres(tmp_root / "pg", database="chat_template", durable=False)
    server.start()
    apply_migrations(server.url)
    yield server
    server.stop()


@pytest.fixture
def database_url(pg_server: EmbeddedPostgres) -> str:
    """A fresh, migrated database for one test."""
    return pg_server.create_database(f"test_{os.getpid()}_{next(_database_numbers)}", template="chat_template")


@pytest.fixture
def store(database_url: str) -> Iterator[ChatStore]:
    db = Database(database_url)
    yield ChatStore(db)
    db.close()


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """moto's AWS (DynamoDB, Management API) with fake credentials and no endpoint overrides."""
    for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws():
        yield


@pytest.fixture
def dynamodb(aws: None) -> Any:
    client = boto3.client("dynamodb", region_name="us-east-1")
    create_table(client, TABLE)
    return client


@pytest.fixture
def registry(dynamodb: Any) -> ConnectionRegistry:
    return ConnectionRegistry(dynamodb, TABLE)


def _gone(exceptions: Any, operation: str) -> BaseException:
    response: Any = {"Error": {"Code": "GoneException", "Message": "gone"}, "ResponseMetadata": {"HTTPStatusCode": 410}}
    return exceptions.GoneException(response, operation)  # type: ignore[no-any-return]


class ManagementFake:
    """moto's Management API client, faking only what moto cannot do (it accepts any id and never fails).

    Ids in ``gone`` answer 410 ``GoneException`` to POST and GET, as API Gateway does for a closed
    connection; ids in ``errors`` raise that error on POST and GET; every GET is counted in ``probed``.
    The one Management API fake of the test suite.
    """

    def __init__(self, real: Any) -> None:
        self._real = real
        self.exceptions = real.exceptions
        self.gone: set[str] = set()
        self.errors: dict[str, BaseException] = {}
        self.probed: Counter[str] = Counter()
        self.largest_post = 0
        """The size in bytes of the largest frame posted so far (moto takes any size; API Gateway does not)."""

    def post_to_connection(self, *, ConnectionId: str, Data: bytes) -> Any:
        self.largest_post = max(self.largest_post, len(Data))
        if ConnectionId in self.gone:
            raise _gone(self.exceptions, "PostToConnection")
        if ConnectionId in self.errors:
            raise self.errors[ConnectionId]
        return self._real.post_to_connection(ConnectionId=ConnectionId, Data=Data)

    def delete_connection(self, *, ConnectionId: str) -> Any:
        if ConnectionId in self.gone:
            raise _gone(self.exceptions, "DeleteConnection")
        return self._real.delete_connection(ConnectionId=ConnectionId)

    def get_connection(self, *, ConnectionId: str) -> Any:
        self.probed[ConnectionId] += 1
        if ConnectionId in self.gone:
            raise _gone(self.exceptions, "GetConnection")
        if ConnectionId in self.errors:
            raise self.errors[ConnectionId]
        return self._real.get_connection(ConnectionId=ConnectionId)


@pytest.fixture
def management(aws: None) -> ManagementFake:
    return ManagementFake(boto3.client("apigatewaymanagementapi", endpoint_url=MANAGEMENT_URL, region_name="us-east-1"))


def delivered(connection_id: str) -> list[dict[str, Any]]:
    """Every frame moto's Management API received for ``connection_id``, in order."""
    import json

    from moto.apigatewaymanagementapi.models import apigatewaymanagementapi_backends
    from moto.core.models import DEFAULT_ACCOUNT_ID

    connections = apigatewaymanagementapi_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].connections
    raw = connections[connection_id].data if connection_id in connections else b""
    text = raw.decode() if isinstance(raw, bytes) else raw
    decoder, frames, index = json.JSONDecoder(), [], 0
    while index < len(text):
        frame, index = decoder.raw_decode(text, index)
        frames.append(frame)
    return frames


@pytest.fixture
def tokens() -> TokenService:
    return TokenService(TOKEN_SECRET)


BUCKET = "test-attachments"


@pytest.fixture
def bucket(aws: None) -> FileBucket:
    """moto's S3 with the attachment bucket, through the client the functions build (SigV4 URLs)."""
    client = s3_client(Settings())
    client.create_bucket(Bucket=BUCKET)
    return FileBucket(client, BUCKET)


@pytest.fixture
def chat(
    store: ChatStore,
    registry: ConnectionRegistry,
    management: ManagementFake,
    tokens: TokenService,
    bucket: FileBucket,
) -> ChatService:
    fanout = Fanout(registry, Broadcaster(management, max_workers=8))
    return ChatService(store, registry, fanout, files=bucket)


@pytest.fixture
def gate(store: ChatStore, registry: ConnectionRegistry, tokens: TokenService) -> ConnectionGate:
    return ConnectionGate(store, registry, tokens)


# ---------------------------------------------------------------- the running local stack


@pytest.fixture(scope="session")
def stack_database(pg_server: EmbeddedPostgres) -> str:
    return pg_server.create_database("stack", template="chat_template")


@pytest.fixture(scope="session")
def stack(tmp_root: Path, stack_database: str) -> Iterator[StackProcess]:
    """``chat-local`` using the test PostgreSQL through ``DATABASE_URL`` (so tests can stop it)."""
    process = StackProcess(
        tmp_root / "stack-data",
        # Prune runs only when a test triggers it, and then checks every connection.
        "--prune-interval",
        "3600",
        "--prune-stale-after",
        "0",
        # The REST fuzz test sends faster than the deployed HTTP stage's 50 requests a second (burst 100)
        # allow: as a deployer would raise them, through the CDK context (the synth is cached).
        "--context",
        "httpThrottleRateLimit=2000",
        "--context",
        "httpThrottleBurstLimit=2000",
        env={"DATABASE_URL": stack_database},
        log_path=tmp_root / "stack.log",
    ).start()
    yield process
    process.stop()


@pytest.fixture
def api(stack: StackProcess) -> Api:
    return Api(stack.api_url)


@pytest.fixture
def clients(stack: StackProcess) -> Iterator[list[ChatClient]]:
    """Open WebSocket clients made by the test, closed after it."""
    opened: list[ChatClient] = []
    yield opened
    for client in opened:
        client.close()
