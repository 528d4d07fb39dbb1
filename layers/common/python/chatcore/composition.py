"""The composition root: the one place the layer's parts are wired to PostgreSQL and AWS.

Each function's handler calls one ``build_*`` here on its first invocation and caches the result for the
warm container; nothing here runs at import time. The same code runs in AWS and in the local stack: only
the environment differs (service endpoints through boto3's ``AWS_ENDPOINT_URL_*`` variables, a
``DATABASE_URL`` instead of a secret, a ``TOKEN_SECRET`` instead of its ARN). Each builder builds, and
imports, only what its function uses, so no function holds a client or a secret it has no need for, nor
loads code it never runs.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode

from chatcore.settings import ConfigurationError, Settings

# The parts are imported by the builders that use them, not here: every handler imports this module, and each
# function's cold start then loads only its own parts (``$disconnect`` never loads psycopg, ``$connect`` never
# the password hasher or the REST API's services).
if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.parameters import SecretsProvider
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sqs import SQSClient

    from chatcore.aws.files import FileBucket
    from chatcore.aws.management import SignedManagementClient
    from chatcore.aws.queue import FanoutQueue
    from chatcore.aws.registry import ConnectionRegistry
    from chatcore.ports import Files
    from chatcore.postgres.store import ChatStore
    from chatcore.records import UploadForm
    from chatcore.service.api import ApiServices
    from chatcore.service.chat import ChatService
    from chatcore.service.delivery import FanoutWorker, RoomDelivery
    from chatcore.service.fanout import Fanout
    from chatcore.service.gate import ConnectionGate
    from chatcore.service.live import LiveUpdates
    from chatcore.service.prune import Pruner
    from chatcore.tokens import TokenService


# ---------------------------------------------------------------- secrets and clients


@cache
def secrets_provider() -> SecretsProvider:
    """Powertools' Secrets Manager provider, over a client of boto3's default session.

    Not ``parameters.get_secret``'s default provider: that one opens a boto3 session of its own, which parses
    botocore's endpoint, retry and model files again (about 30 ms of a cold start)."""
    import boto3
    from aws_lambda_powertools.utilities.parameters import SecretsProvider
    from botocore.config import Config

    config = Config(retries={"mode": "standard", "max_attempts": 4}, connect_timeout=2, read_timeout=5)
    return SecretsProvider(boto3_client=boto3.client("secretsmanager", config=config))


def _secret(arn: str) -> str:
    # The provider caches the value for the warm container (5 minutes, POWERTOOLS_PARAMETERS_MAX_AGE).
    value = secrets_provider().get(arn)
    if isinstance(value, bytes):  # a SecretBinary
        return value.decode()
    if not isinstance(value, str):
        raise ConfigurationError(f"the secret {arn} has no string value")
    return value


#: The role migration 0004 creates for the functions (DML only); its secret's username must name it.
APP_ROLE = "chat_app"


def database_conninfo(settings: Settings) -> str:
    """A libpq connection string: ``DATABASE_URL`` as is, or built from the database secret.

    With the secret (in AWS) the server's certificate is verified against ``DATABASE_CA_BUNDLE`` and its
    name against the host (``sslmode=verify-full``); without a readable bundle this refuses to connect
    rather than talk to a server it cannot authenticate.
    """
    if settings.database_url:
        return settings.database_url
    ca_bundle = settings.database_ca_bundle
    if not ca_bundle or not Path(ca_bundle).is_file():
        raise ConfigurationError(
            f"DATABASE_CA_BUNDLE {ca_bundle!r} is not a readable file: refusing to connect to PostgreSQL "
            "without verifying its certificate"
        )
    secret: dict[str, Any] = json.loads(_secret(settings.require("database_secret_arn")))
    host = settings.database_host or secret["host"]
    name = settings.database_name or secret.get("dbname", "chat")
    user, password = quote(secret["username"], safe=""), quote(secret["password"], safe="")
    options = urlencode({"sslmode": "verify-full", "sslrootcert": ca_bundle})
    return f"postgresql://{user}:{password}@{host}:{secret.get('port', 5432)}/{quote(name, safe='')}?{options}"


def set_app_role_password(conninfo: str, username: str, password: str) -> None:
    """Let the application role log in with ``password`` (the migrate function, as the master user).

    Only the SCRAM-SHA-256 verifier, computed here by libpq, is sent to the server, so the password itself
    never appears in a statement the server could log; name and verifier are quoted by ``psycopg.sql``.
    """
    import psycopg
    from psycopg import sql

    if username != APP_ROLE:
        raise ConfigurationError(f"the application secret names {username!r}, but the migrations create {APP_ROLE}")
    with psycopg.connect(conninfo, autocommit=True) as conn:
        verifier = conn.pgconn.encrypt_password(password.encode(), username.encode(), b"scram-sha-256").decode()
        conn.execute(
            sql.SQL("ALTER ROLE {} WITH LOGIN PASSWORD {}").format(sql.Identifier(username), sql.Literal(verifier))
        )


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
    from chatcore.aws.management import SignedManagementClient

    endpoint = settings.require("management_api_url")
    client = boto3.client("apigatewaymanagementapi", endpoint_url=endpoint, config=config)
    # The default session boto3.client just used: the fast path signs with the client's own credentials.
    # (A session of its own would parse botocore's endpoint and model files again on every cold start.)
    session = boto3.DEFAULT_SESSION or boto3.session.Session()
    credentials = session.get_credentials()
    if credentials is None:
        raise ConfigurationError("no AWS credentials for the Management API")
    return SignedManagementClient(client, credentials, max_attempts=5, connect_timeout=2, read_timeout=5)


def sqs_client(settings: Settings) -> SQSClient:
    import boto3
    from botocore.config import Config

    return boto3.client("sqs", config=Config(retries={"mode": "standard", "max_attempts": 4}, connect_timeout=2))


def s3_client(settings: Settings, endpoint_url: str | None = None) -> S3Client:
    import boto3
    from botocore.config import Config

    config = Config(signature_version="s3v4", retries={"mode": "standard", "max_attempts": 4}, connect_timeout=2)
    return boto3.client("s3", endpoint_url=endpoint_url, config=config)


# ---------------------------------------------------------------- the layer's parts


def build_store(settings: Settings) -> ChatStore:
    from chatcore.postgres.database import Database
    from chatcore.postgres.store import ChatStore

    return ChatStore(Database(lambda: database_conninfo(settings)))


def build_registry(settings: Settings) -> ConnectionRegistry:
    from chatcore.aws.registry import ConnectionRegistry

    return ConnectionRegistry(dynamodb_client(settings), settings.require("connections_table"))


class FilesOnFirstUse:
    """The attachment bucket, its S3 clients created by the first call that needs them: most invocations (every
    frame but a message with files, every REST call but the attachment routes) never do, and a client costs a
    cold start tens of milliseconds (S3's service model, s3transfer)."""

    def __init__(self, build: Callable[[], Files]) -> None:
        self._build = build
        self._files: Files | None = None

    def _bucket(self) -> Files:
        if self._files is None:
            self._files = self._build()
        return self._files

    def upload_form(self, key: str, *, size: int, content_type: str, expires_in: int) -> UploadForm:
        return self._bucket().upload_form(key, size=size, content_type=content_type, expires_in=expires_in)

    def download_url(self, key: str, *, name: str, content_type: str, inline: bool, expires_in: int) -> str:
        return self._bucket().download_url(
            key, name=name, content_type=content_type, inline=inline, expires_in=expires_in
        )

    def mark_sent(self, key: str) -> bool:
        return self._bucket().mark_sent(key)

    def delete(self, keys: Sequence[str]) -> None:
        self._bucket().delete(keys)


def build_files(settings: Settings) -> Files | None:
    """The attachment bucket, when the deployment has one (``ATTACHMENTS_BUCKET``)."""
    bucket = settings.attachments_bucket
    if not bucket:
        return None

    def build() -> FileBucket:
        from chatcore.aws.files import FileBucket

        public = settings.attachments_public_endpoint
        return FileBucket(s3_client(settings), bucket, signer=s3_client(settings, public) if public else None)

    return FilesOnFirstUse(build)


def build_tokens(settings: Settings) -> TokenService:
    """Tokens signed and verified with the key set of the signing secret, read again on every use (a cache
    hit within Powertools' five minutes), so a rotated key reaches a warm container within five minutes."""
    from chatcore.tokens import TokenService

    return TokenService(lambda: token_secret(settings), ttl_seconds=settings.token_ttl_seconds)


def build_live_updates(settings: Settings) -> LiveUpdates:
    """What brings membership changes to open connections: DynamoDB, the Management API (and SQS for large
    rooms)."""
    from chatcore.service.live import LiveUpdates

    fanout = build_fanout(settings)
    return LiveUpdates(fanout.registry, fanout, build_delivery(settings, fanout))


def build_jobs(settings: Settings) -> FanoutQueue | None:
    """The fan-out queue, when the deployment has one (``FANOUT_QUEUE_URL``)."""
    from chatcore.aws.queue import FanoutQueue

    return FanoutQueue(sqs_client(settings), settings.fanout_queue_url) if settings.fanout_queue_url else None


def build_delivery(settings: Settings, fanout: Fanout) -> RoomDelivery:
    from chatcore.service.delivery import RoomDelivery

    return RoomDelivery(fanout.registry, fanout, build_jobs(settings), large_room=settings.fanout_large_room)


def build_fanout(settings: Settings) -> Fanout:
    """Delivery and dead-connection cleanup: DynamoDB and the Management API only."""
    from chatcore.aws.broadcaster import Broadcaster
    from chatcore.service.fanout import Fanout

    return Fanout(build_registry(settings), Broadcaster(management_client(settings), settings.broadcast_max_workers))


# ---------------------------------------------------------------- one per function


def build_connection_gate(settings: Settings | None = None) -> ConnectionGate:
    """``$connect``: PostgreSQL, DynamoDB, the token key, and the Management API (to announce presence)."""
    from chatcore.service.gate import ConnectionGate

    settings = settings or Settings.from_env()
    fanout = build_fanout(settings)
    return ConnectionGate(
        store=build_store(settings),
        registry=fanout.registry,
        tokens=build_tokens(settings),
        allowed_origins=settings.allowed_origins,
        max_connections_per_user=settings.max_connections_per_user,
        fanout=fanout,
    )


def build_chat_service(settings: Settings | None = None) -> ChatService:
    """Every route after ``$connect``: PostgreSQL, DynamoDB and the Management API; no token key."""
    from chatcore.service.chat import ChatService

    settings = settings or Settings.from_env()
    fanout = build_fanout(settings)
    return ChatService(
        store=build_store(settings),
        registry=fanout.registry,
        fanout=fanout,
        limits=settings.rate_limits,
        files=build_files(settings),
        delivery=build_delivery(settings, fanout),
    )


def build_disconnect(settings: Settings | None = None) -> Fanout:
    """``$disconnect``: forgetting the connection needs DynamoDB and the Management API only."""
    return build_fanout(settings or Settings.from_env())


def build_fanout_worker(settings: Settings | None = None) -> FanoutWorker:
    """The fan-out worker: DynamoDB, the Management API and SQS (to queue failed posts again); no database."""
    from chatcore.aws.queue import FanoutQueue
    from chatcore.service.delivery import FanoutWorker

    settings = settings or Settings.from_env()
    fanout = build_fanout(settings)
    jobs = FanoutQueue(sqs_client(settings), settings.require("fanout_queue_url"))
    return FanoutWorker(fanout.registry, fanout, jobs, posts_per_second=settings.fanout_posts_per_second)


def build_pruner(settings: Settings | None = None) -> Pruner:
    """The prune schedule: DynamoDB and the Management API only."""
    from chatcore.service.prune import Pruner

    settings = settings or Settings.from_env()
    return Pruner(build_fanout(settings), stale_after_seconds=settings.prune_stale_after_seconds)


def build_api_services(settings: Settings | None = None) -> ApiServices:
    """The REST function: PostgreSQL and the token key, plus DynamoDB and the Management API (built on the
    first membership change) when the registry is configured, so open connections follow membership at once."""
    from chatcore.service.accounts import AccountService
    from chatcore.service.api import ApiServices
    from chatcore.service.attachments import AttachmentService
    from chatcore.service.directory import DirectoryService
    from chatcore.service.profiles import ProfileService
    from chatcore.service.rooms import RoomService
    from chatcore.service.search import SearchService
    from chatcore.service.tags import TagService

    settings = settings or Settings.from_env()
    store = build_store(settings)
    live = (
        (lambda: build_live_updates(settings)) if settings.connections_table and settings.management_api_url else None
    )
    return ApiServices(
        accounts=AccountService(store, build_tokens(settings), live=live),
        profiles=ProfileService(store, live),
        rooms=RoomService(store, live),
        tags=TagService(store),
        directory=DirectoryService(store),
        search=SearchService(store),
        attachments=AttachmentService(store, build_files(settings)),
    )


def run_migrations(settings: Settings | None = None) -> list[str]:
    """The deploy-time migration step: the SQL migrations not yet applied; their names.

    With ``APP_DATABASE_SECRET_ARN`` (in AWS) it then gives the application role the password of that
    secret, on every run, so the role and its secret stay in step.
    """
    from chatcore.postgres.migrate import apply_migrations

    settings = settings or Settings.from_env()
    conninfo = database_conninfo(settings)
    applied = apply_migrations(conninfo)
    if settings.app_database_secret_arn:
        app: dict[str, Any] = json.loads(_secret(settings.app_database_secret_arn))
        set_app_role_password(conninfo, app["username"], app["password"])
    return applied
