"""The composition root: the one place the layer's parts are wired to PostgreSQL and AWS.

Each function's handler calls one ``build_*`` here on its first invocation and caches the result for the
warm container; nothing here runs at import time. The same code runs in AWS and in the local stack: only
the environment differs (service endpoints through boto3's ``AWS_ENDPOINT_URL_*`` variables, a
``DATABASE_URL`` instead of a secret, a ``TOKEN_SECRET`` instead of its ARN). Each builder builds only
what its function uses, so no function holds a client or a secret it has no need for.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from chatcore.aws.broadcaster import Broadcaster
from chatcore.aws.management import SignedManagementClient
from chatcore.aws.registry import ConnectionRegistry
from chatcore.postgres.database import Database
from chatcore.postgres.migrate import apply_migrations
from chatcore.postgres.store import ChatStore
from chatcore.service.accounts import AccountService
from chatcore.service.api import ApiServices
from chatcore.service.chat import ChatService
from chatcore.service.directory import DirectoryService
from chatcore.service.fanout import Fanout
from chatcore.service.gate import ConnectionGate
from chatcore.service.profiles import ProfileService
from chatcore.service.prune import Pruner
from chatcore.service.rooms import RegistrySubscriptions, RoomService
from chatcore.service.tags import TagService
from chatcore.settings import ConfigurationError, Settings
from chatcore.tokens import TokenService

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


# ---------------------------------------------------------------- secrets and clients


def _secret(arn: str) -> str:
    # Powertools caches the value for the warm container (5 minutes by default).
    from aws_lambda_powertools.utilities import parameters

    value = parameters.get_secret(arn)
    return value if isinstance(value, str) else value.decode()


def database_conninfo(settings: Settings) -> str:
    """A libpq connection string: ``DATABASE_URL`` as is, or built from the RDS secret."""
    if settings.database_url:
        return settings.database_url
    secret: dict[str, Any] = json.loads(_secret(settings.require("database_secret_arn")))
    host = settings.database_host or secret["host"]
    name = settings.database_name or secret.get("dbname", "chat")
    user, password = quote(secret["username"], safe=""), quote(secret["password"], safe="")
    return f"postgresql://{user}:{password}@{host}:{secret.get('port', 5432)}/{name}?sslmode=require"


def token_secret(settings: Settings) -> str:
    """The token signing secret: one key, or the JSON key set of :mod:`chatcore.tokens` (``TOKEN_SECRET`` as
    is, or the secret's current value, cached by Powertools for five minutes)."""
    if settings.token_secret:
        return settings.token_secret
    return _secret(settings.require("token_secret_arn"))


def dynamodb_client(settings: Settings) -> DynamoDBClient:
    import boto3
    from botocore.config import Config

    # Adaptive retries back off on throttling instead of failing the frame.
    config = Config(retries={"mode": "adaptive", "max_attempts": 6}, connect_timeout=2, read_timeout=5)
    return boto3.client("dynamodb", config=config)


def management_client(settings: Settings) -> SignedManagementClient:
    """boto3's Management API client, with ``post_to_connection`` on the light signed-HTTP path."""
    import boto3
    from botocore.config import Config

    config = Config(
        # Standard retries cover 429 LimitExceeded and 5xx with exponential backoff and jitter.
        retries={"mode": "standard", "max_attempts": 5},
        max_pool_connections=settings.broadcast_max_workers,
        connect_timeout=2,
        read_timeout=5,
        tcp_keepalive=True,
    )
    endpoint = settings.require("management_api_url")
    client = boto3.client("apigatewaymanagementapi", endpoint_url=endpoint, config=config)
    # The default session boto3.client just used: the fast path signs with the client's own credentials.
    # (A session of its own would parse botocore's endpoint and model files again on every cold start.)
    session = boto3.DEFAULT_SESSION or boto3.session.Session()
    credentials = session.get_credentials()
    if credentials is None:
        raise ConfigurationError("no AWS credentials for the Management API")
    return SignedManagementClient(client, credentials, max_attempts=5, connect_timeout=2, read_timeout=5)


# ---------------------------------------------------------------- the layer's parts


def build_store(settings: Settings) -> ChatStore:
    return ChatStore(Database(lambda: database_conninfo(settings)))


def build_registry(settings: Settings) -> ConnectionRegistry:
    return ConnectionRegistry(dynamodb_client(settings), settings.require("connections_table"))


def build_tokens(settings: Settings) -> TokenService:
    """Tokens signed and verified with the key set of the signing secret, read again on every use (a cache
    hit within Powertools' five minutes), so a rotated key reaches a warm container within five minutes."""
    return TokenService(lambda: token_secret(settings), ttl_seconds=settings.token_ttl_seconds)


def build_fanout(settings: Settings) -> Fanout:
    """Delivery and dead-connection cleanup: DynamoDB and the Management API only."""
    return Fanout(build_registry(settings), Broadcaster(management_client(settings), settings.broadcast_max_workers))


# ---------------------------------------------------------------- one per function


def build_connection_gate(settings: Settings | None = None) -> ConnectionGate:
    """``$connect``: PostgreSQL, DynamoDB and the token key; no Management API client."""
    settings = settings or Settings.from_env()
    return ConnectionGate(
        users=build_store(settings),
        registry=build_registry(settings),
        tokens=build_tokens(settings),
        allowed_origins=settings.allowed_origins,
    )


def build_chat_service(settings: Settings | None = None) -> ChatService:
    """Every route after ``$connect``: PostgreSQL, DynamoDB and the Management API; no token key."""
    settings = settings or Settings.from_env()
    fanout = build_fanout(settings)
    return ChatService(
        store=build_store(settings), registry=fanout.registry, fanout=fanout, limits=settings.rate_limits
    )


def build_disconnect(settings: Settings | None = None) -> Fanout:
    """``$disconnect``: forgetting the connection needs DynamoDB and the Management API only."""
    return build_fanout(settings or Settings.from_env())


def build_pruner(settings: Settings | None = None) -> Pruner:
    """The prune schedule: DynamoDB and the Management API only."""
    settings = settings or Settings.from_env()
    return Pruner(build_fanout(settings), stale_after_seconds=settings.prune_stale_after_seconds)


def build_api_services(settings: Settings | None = None) -> ApiServices:
    """The REST function: PostgreSQL and the token key, plus DynamoDB (built on first use) when the
    connections table is configured, so a removed member's open WebSockets leave the room at once."""
    settings = settings or Settings.from_env()
    store = build_store(settings)
    subscriptions = RegistrySubscriptions(lambda: build_registry(settings)) if settings.connections_table else None
    return ApiServices(
        accounts=AccountService(store, build_tokens(settings)),
        profiles=ProfileService(store),
        rooms=RoomService(store, subscriptions),
        tags=TagService(store),
        directory=DirectoryService(store),
    )


def run_migrations(settings: Settings | None = None) -> list[str]:
    """The deploy-time migration step: the SQL migrations not yet applied; their names."""
    return apply_migrations(database_conninfo(settings or Settings.from_env()))
