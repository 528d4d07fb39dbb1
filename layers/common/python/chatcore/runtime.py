"""Settings from the environment and the builders that wire the layer's parts together.

Handlers call these lazily on their first invocation and cache the result for the warm container;
nothing here runs at import time. The same code runs in AWS and in the local stack: only the
environment differs (service endpoints through boto3's ``AWS_ENDPOINT_URL_*`` variables, a
``DATABASE_URL`` instead of a secret, a ``TOKEN_SECRET`` instead of its ARN).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from chatcore.auth import DEFAULT_TOKEN_TTL_SECONDS, TokenService
from chatcore.broadcaster import DEFAULT_MAX_WORKERS, Broadcaster, SignedManagementClient
from chatcore.chat import ChatService, ConnectionGate, RateLimits
from chatcore.fanout import Fanout
from chatcore.registry import ConnectionRegistry
from chatcore.store import ChatStore, Database

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


_DEFAULT_LIMITS = RateLimits()


def _origins(value: str | None) -> frozenset[str] | None:
    if not value or value.strip() == "*":
        return None
    return frozenset(o.strip().rstrip("/") for o in value.split(",") if o.strip())


class ConfigurationError(RuntimeError):
    """A required setting is missing."""


@dataclass(frozen=True)
class Settings:
    connections_table: str | None = None
    management_api_url: str | None = None
    database_url: str | None = None
    database_secret_arn: str | None = None
    database_host: str | None = None
    database_name: str | None = None
    token_secret: str | None = None
    token_secret_arn: str | None = None
    token_ttl_seconds: int = DEFAULT_TOKEN_TTL_SECONDS
    broadcast_max_workers: int = DEFAULT_MAX_WORKERS
    rate_limits: RateLimits = field(default_factory=RateLimits)
    allowed_origins: frozenset[str] | None = None
    """Web origins allowed to open WebSockets (``ALLOWED_ORIGINS``, comma-separated); None allows any."""

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        return cls(
            connections_table=env.get("CONNECTIONS_TABLE"),
            management_api_url=env.get("MANAGEMENT_API_URL"),
            database_url=env.get("DATABASE_URL"),
            database_secret_arn=env.get("DATABASE_SECRET_ARN"),
            database_host=env.get("DATABASE_HOST"),
            database_name=env.get("DATABASE_NAME"),
            token_secret=env.get("TOKEN_SECRET"),
            token_secret_arn=env.get("TOKEN_SECRET_ARN"),
            token_ttl_seconds=int(env.get("TOKEN_TTL_SECONDS", DEFAULT_TOKEN_TTL_SECONDS)),
            broadcast_max_workers=int(env.get("BROADCAST_MAX_WORKERS", DEFAULT_MAX_WORKERS)),
            allowed_origins=_origins(env.get("ALLOWED_ORIGINS")),
            rate_limits=RateLimits(
                frames=int(env.get("RATE_LIMIT_FRAMES", _DEFAULT_LIMITS.frames)),
                messages=int(env.get("RATE_LIMIT_MESSAGES", _DEFAULT_LIMITS.messages)),
                typing=int(env.get("RATE_LIMIT_TYPING", _DEFAULT_LIMITS.typing)),
            ),
        )

    def require(self, name: str) -> str:
        value = getattr(self, name)
        if not value:
            raise ConfigurationError(f"setting {name.upper()} is not configured")
        return str(value)


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


def build_store(settings: Settings) -> ChatStore:
    return ChatStore(Database(lambda: database_conninfo(settings)))


def build_registry(settings: Settings) -> ConnectionRegistry:
    return ConnectionRegistry(dynamodb_client(settings), settings.require("connections_table"))


def build_tokens(settings: Settings) -> TokenService:
    return TokenService(token_secret(settings), ttl_seconds=settings.token_ttl_seconds)


def build_fanout(settings: Settings) -> Fanout:
    """Delivery and dead-connection cleanup: DynamoDB and the Management API only."""
    return Fanout(build_registry(settings), Broadcaster(management_client(settings), settings.broadcast_max_workers))


def build_connection_gate(settings: Settings | None = None) -> ConnectionGate:
    """What ``$connect`` needs: PostgreSQL, DynamoDB and the token key; no Management API client."""
    settings = settings or Settings.from_env()
    return ConnectionGate(
        store=build_store(settings),
        registry=build_registry(settings),
        tokens=build_tokens(settings),
        allowed_origins=settings.allowed_origins,
    )


def build_chat_service(settings: Settings | None = None) -> ChatService:
    """The chat service wired to PostgreSQL, DynamoDB and the Management API from ``settings``."""
    settings = settings or Settings.from_env()
    fanout = build_fanout(settings)
    return ChatService(
        store=build_store(settings),
        registry=fanout.registry,
        fanout=fanout,
        tokens=build_tokens(settings),
        limits=settings.rate_limits,
        allowed_origins=settings.allowed_origins,
    )
