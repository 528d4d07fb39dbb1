"""The app's settings, read from CDK context (``cdk.json`` or ``-c key=value`` on the command line)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aws_cdk import aws_logs as logs
from chatcore.rules import DEFAULT_POSTS_PER_SECOND, LARGE_ROOM
from constructs import Node

from infra.chat_infra.paths import REPO_ROOT

# Context values given with ``-c`` arrive as strings; these spell booleans.
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}
_STAGE_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


_RETENTION = (
    (1, logs.RetentionDays.ONE_DAY),
    (3, logs.RetentionDays.THREE_DAYS),
    (5, logs.RetentionDays.FIVE_DAYS),
    (7, logs.RetentionDays.ONE_WEEK),
    (14, logs.RetentionDays.TWO_WEEKS),
    (30, logs.RetentionDays.ONE_MONTH),
    (60, logs.RetentionDays.TWO_MONTHS),
    (90, logs.RetentionDays.THREE_MONTHS),
    (120, logs.RetentionDays.FOUR_MONTHS),
    (150, logs.RetentionDays.FIVE_MONTHS),
    (180, logs.RetentionDays.SIX_MONTHS),
    (365, logs.RetentionDays.ONE_YEAR),
    (400, logs.RetentionDays.THIRTEEN_MONTHS),
    (545, logs.RetentionDays.EIGHTEEN_MONTHS),
    (731, logs.RetentionDays.TWO_YEARS),
    (1096, logs.RetentionDays.THREE_YEARS),
    (1827, logs.RetentionDays.FIVE_YEARS),
    (2192, logs.RetentionDays.SIX_YEARS),
    (2557, logs.RetentionDays.SEVEN_YEARS),
    (2922, logs.RetentionDays.EIGHT_YEARS),
    (3288, logs.RetentionDays.NINE_YEARS),
    (3653, logs.RetentionDays.TEN_YEARS),
)


#: The functions whose concurrency context may reserve (those holding a PostgreSQL connection each).
RESERVABLE_FUNCTIONS = ("connect", "message", "rest", "fanout")


class ConfigError(ValueError):
    """A context value is missing its expected shape."""


def _bool(key: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ConfigError(f"context {key!r} must be true or false, not {value!r}")


def _int(key: str, value: Any, *, minimum: int, maximum: int) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"context {key!r} must be an integer, not {value!r}") from exc
    if not minimum <= number <= maximum:
        raise ConfigError(f"context {key!r} must be between {minimum} and {maximum}, not {number}")
    return number


def _origins(key: str, value: Any) -> tuple[str, ...]:
    items = value if isinstance(value, list) else str(value).split(",")
    origins = tuple(str(item).strip().rstrip("/") for item in items if str(item).strip())
    for origin in origins:
        if not re.match(r"^https?://[^/\s]+$", origin):
            raise ConfigError(f"context {key!r}: {origin!r} is not an origin like https://chat.example.com")
    return origins


@dataclass(frozen=True)
class ChatConfig:
    """Everything a deployment may vary. The defaults suit a small team; see infra/README.md."""

    stage: str = "prod"
    """The WebSocket stage name, also part of the stack name (``chat-<stage>``)."""
    allowed_origins: tuple[str, ...] = ()
    """Web origins allowed besides the CloudFront site (CORS and the ``$connect`` Origin check)."""
    nat_gateway: bool = True
    """One NAT gateway so VPC functions reach the public Management API. Without it ``message`` cannot post."""
    deletion_protection: bool = True
    """RDS deletion protection (and snapshot on delete). Deploy with ``false`` before ``cdk destroy``."""
    api_gateway_account_role: bool = True
    """Set the region's API Gateway CloudWatch role (WebSocket access logs need it). ``false`` if already set."""
    db_instance_class: str = "t4g.micro"
    db_allocated_storage_gb: int = 20
    db_max_allocated_storage_gb: int = 100
    db_multi_az: bool = False
    db_backup_retention_days: int = 7
    function_memory_mb: int = 512
    throttle_rate_limit: int = 100
    """WebSocket stage steady-state requests per second (all routes)."""
    throttle_burst_limit: int = 200
    http_throttle_rate_limit: int = 50
    http_throttle_burst_limit: int = 100
    log_retention_days: int = 30
    token_ttl_seconds: int = 12 * 3600
    broadcast_max_workers: int = 32
    fanout_large_room: int = LARGE_ROOM
    """Rooms of more members fan out through the queue and the worker function (and get no typing)."""
    fanout_posts_per_second: int = DEFAULT_POSTS_PER_SECOND
    """Management API posts a second all fan-out workers share: keep it under the account's API Gateway throttle."""
    fanout_batch_size: int = 1
    """Jobs per worker invocation (SQS event source batch size). One: a job is a shard of up to 2,000 posts,
    seconds of work, and a batch of ten could outrun the worker's timeout and be retried whole."""
    fanout_max_concurrency: int = 16
    """Worker invocations at once (the SQS event source's maximum concurrency)."""
    fanout_worker_timeout_seconds: int = 60
    """The fan-out worker's timeout: one job (a shard of up to 2,000 posts, within the budget) must fit in it."""
    fanout_visibility_timeout_seconds: int | None = None
    """How long a job a worker received stays hidden before SQS delivers it again (so a worker that died
    mid-job is retried after it). None: six times the worker's timeout, as Lambda's SQS event source
    recommends; never shorter than the timeout (Lambda refuses such an event source)."""
    alarm_email: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    rds_ca_bundle: str = "infra/certs/rds-global-bundle.pem"
    """RDS's global CA bundle (relative to the repository root, or absolute), shipped in the layer."""
    proxy_borrow_timeout_seconds: int = 5
    """How long RDS Proxy holds a caller waiting for a database connection; under every proxy user's timeout."""
    proxy_max_connections_percent: int = 80
    """The share of PostgreSQL's max_connections the proxy may open (the rest: migration, admin, headroom)."""
    reserved_concurrency: dict[str, int] = field(default_factory=dict)
    """Reserved concurrency per function folder (``connect``, ``message``, ``rest``, ``fanout``); none by default."""
    cloudfront_logging: bool = True
    """CloudFront standard logging into the access-log bucket (impossible in opt-in regions, see the README)."""

    @property
    def log_retention(self) -> logs.RetentionDays:
        """The shortest CloudWatch Logs retention period that keeps logs ``log_retention_days`` days."""
        return next((value for days, value in _RETENTION if days >= self.log_retention_days), _RETENTION[-1][1])

    @property
    def fanout_visibility_timeout(self) -> int:
        """The fan-out queue's visibility timeout in seconds."""
        if self.fanout_visibility_timeout_seconds is not None:
            return self.fanout_visibility_timeout_seconds
        return 6 * self.fanout_worker_timeout_seconds

    @property
    def rds_ca_bundle_path(self) -> Path:
        path = Path(self.rds_ca_bundle)
        return path if path.is_absolute() else REPO_ROOT / path

    @property
    def stack_name(self) -> str:
        return f"chat-{self.stage}"

    @classmethod
    def from_context(cls, node: Node) -> ChatConfig:
        """Read every setting from ``node``'s context, falling back to the defaults above."""

        def get(key: str) -> Any:
            return node.try_get_context(key)

        defaults = cls()
        values: dict[str, Any] = {}
        if (stage := get("stage")) is not None:
            if not _STAGE_NAME.match(str(stage)):
                raise ConfigError(f"context 'stage' must match {_STAGE_NAME.pattern}, not {stage!r}")
            values["stage"] = str(stage)
        if (origins := get("allowedOrigins")) is not None:
            values["allowed_origins"] = _origins("allowedOrigins", origins)
        for key, attr in (
            ("natGateway", "nat_gateway"),
            ("deletionProtection", "deletion_protection"),
            ("dbMultiAz", "db_multi_az"),
            ("apiGatewayAccountRole", "api_gateway_account_role"),
            ("cloudFrontLogging", "cloudfront_logging"),
        ):
            if (value := get(key)) is not None:
                values[attr] = _bool(key, value)
        if (instance := get("dbInstanceClass")) is not None:
            if not re.match(r"^[a-z0-9]+\.[a-z0-9]+$", str(instance)):
                raise ConfigError(f"context 'dbInstanceClass' must look like t4g.micro, not {instance!r}")
            values["db_instance_class"] = str(instance)
        bounds = {
            "dbAllocatedStorageGb": ("db_allocated_storage_gb", 20, 65536),
            "dbMaxAllocatedStorageGb": ("db_max_allocated_storage_gb", 20, 65536),
            "dbBackupRetentionDays": ("db_backup_retention_days", 1, 35),
            "functionMemoryMb": ("function_memory_mb", 128, 10240),
            "throttleRateLimit": ("throttle_rate_limit", 1, 100000),
            "throttleBurstLimit": ("throttle_burst_limit", 1, 5000),
            "httpThrottleRateLimit": ("http_throttle_rate_limit", 1, 100000),
            "httpThrottleBurstLimit": ("http_throttle_burst_limit", 1, 5000),
            "logRetentionDays": ("log_retention_days", 1, 3653),
            "tokenTtlSeconds": ("token_ttl_seconds", 60, 7 * 24 * 3600),
            "broadcastMaxWorkers": ("broadcast_max_workers", 1, 256),
            "fanoutLargeRoom": ("fanout_large_room", 2, 10_000_000),
            "fanoutPostsPerSecond": ("fanout_posts_per_second", 1, 100_000),
            "fanoutBatchSize": ("fanout_batch_size", 1, 10),
            "fanoutMaxConcurrency": ("fanout_max_concurrency", 2, 1000),
            "fanoutWorkerTimeoutSeconds": ("fanout_worker_timeout_seconds", 1, 900),
            "fanoutVisibilityTimeoutSeconds": ("fanout_visibility_timeout_seconds", 1, 43_200),
            "proxyBorrowTimeoutSeconds": ("proxy_borrow_timeout_seconds", 1, 300),
            "proxyMaxConnectionsPercent": ("proxy_max_connections_percent", 2, 100),
        }
        for key, (attr, low, high) in bounds.items():
            if (value := get(key)) is not None:
                values[attr] = _int(key, value, minimum=low, maximum=high)
        reserved = {}
        for folder in RESERVABLE_FUNCTIONS:
            key = f"reservedConcurrency{folder.capitalize()}"
            # "" or "off" (what -c key= gives) means none reserved, like leaving the key out.
            if (value := get(key)) is not None and str(value).strip().lower() not in ("", "off", "none"):
                reserved[folder] = _int(key, value, minimum=1, maximum=10000)
        if reserved:
            values["reserved_concurrency"] = reserved
        if (bundle := get("rdsCaBundle")) is not None:
            if not str(bundle).strip():
                raise ConfigError("context 'rdsCaBundle' must be a path to RDS's global-bundle.pem")
            values["rds_ca_bundle"] = str(bundle).strip()
        if email := get("alarmEmail"):
            if not re.match(r"^[^@\s]+@[^@\s]+\.[^@\s]+$", str(email)):
                raise ConfigError(f"context 'alarmEmail' is not an e-mail address: {email!r}")
            values["alarm_email"] = str(email)
        if (tags := get("tags")) is not None:
            if not isinstance(tags, dict):
                raise ConfigError("context 'tags' must be an object of strings")
            values["tags"] = {str(k): str(v) for k, v in tags.items()}
        config = cls(**{**defaults.__dict__, **values})
        if config.db_max_allocated_storage_gb < config.db_allocated_storage_gb:
            raise ConfigError("context 'dbMaxAllocatedStorageGb' must not be below 'dbAllocatedStorageGb'")
        if config.fanout_visibility_timeout < config.fanout_worker_timeout_seconds:
            raise ConfigError("context 'fanoutVisibilityTimeoutSeconds' must not be below 'fanoutWorkerTimeoutSeconds'")
        return config
