"""The functions' settings, read from the environment into one typed model.

The CDK app sets these variables on each function (only those it needs); the local stack sets the same
names pointed at its stand-ins. A value of the wrong type, or a setting a function needs but lacks,
raises :class:`ConfigurationError` naming the variable.
"""

# Not `from __future__ import annotations`: pydantic would then evaluate each annotation's string when a model
# class is created; real annotations cost a cold start less (about 2 ms for the frame models).
import os
from collections.abc import Mapping
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from chatcore.rules import (
    DEFAULT_MAX_WORKERS,
    DEFAULT_POSTS_PER_SECOND,
    DEFAULT_TOKEN_TTL_SECONDS,
    LARGE_ROOM,
    RateLimits,
)

DEFAULT_PRUNE_STALE_AFTER_SECONDS = 300.0
_DEFAULT_LIMITS = RateLimits()


class ConfigurationError(RuntimeError):
    """A setting is missing or has a value of the wrong type."""


class Settings(BaseModel):
    """Every setting of every function; each function reads only what it uses (see :meth:`require`).

    A plain pydantic model read by :meth:`from_env` (variable names case-insensitive), not pydantic-settings'
    ``BaseSettings``: importing that costs every function's cold start 30 to 60 ms (asyncio, argparse, dotenv)
    for sources the functions never use."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    connections_table: str | None = None
    """``CONNECTIONS_TABLE``: the DynamoDB connection registry."""
    management_api_url: str | None = None
    """``MANAGEMENT_API_URL``: the WebSocket stage's callback URL (``https://{api}.execute-api.../{stage}``)."""
    database_url: str | None = None
    """``DATABASE_URL``: a libpq URL (the local stack); in AWS the secret below is used instead."""
    database_secret_arn: str | None = None
    database_host: str | None = None
    """``DATABASE_HOST``: the RDS Proxy endpoint, which the database secret does not hold."""
    database_name: str | None = None
    database_ca_bundle: str | None = None
    """``DATABASE_CA_BUNDLE``: the PEM file of the CAs that sign the database endpoint's certificate (a path in
    the layer). Required with the secret: the server is verified (``sslmode=verify-full``) or not connected to."""
    app_database_secret_arn: str | None = None
    """``APP_DATABASE_SECRET_ARN``: the migrate function only: the application role's secret, whose password it
    sets on the role after migrating (the other functions connect with that secret as ``DATABASE_SECRET_ARN``)."""
    attachments_bucket: str | None = None
    """``ATTACHMENTS_BUCKET``: the S3 bucket of attachments; without it there are no attachments."""
    attachments_public_endpoint: str | None = None
    """``ATTACHMENTS_PUBLIC_ENDPOINT``: the local stack only: the S3 endpoint as browsers reach it (the stack's
    ``/_s3``), for the URLs it signs; in AWS the URLs name the bucket's own endpoint."""
    fanout_queue_url: str | None = None
    """``FANOUT_QUEUE_URL``: the SQS queue of large rooms' deliveries; without it every room is posted directly."""
    fanout_large_room: int = Field(default=LARGE_ROOM, gt=0)
    """``FANOUT_LARGE_ROOM``: rooms of more members go through the queue (and get no typing or read receipts)."""
    fanout_posts_per_second: int = Field(default=DEFAULT_POSTS_PER_SECOND, gt=0)
    """``FANOUT_POSTS_PER_SECOND``: the Management API posts a second all fan-out workers share."""
    token_secret: str | None = None
    """``TOKEN_SECRET``: the token signing key itself (the local stack); in AWS its secret's ARN."""
    token_secret_arn: str | None = None
    token_ttl_seconds: int = Field(default=DEFAULT_TOKEN_TTL_SECONDS, gt=0)
    broadcast_max_workers: int = Field(default=DEFAULT_MAX_WORKERS, gt=0)
    rate_limit_frames: int = Field(default=_DEFAULT_LIMITS.frames, gt=0)
    rate_limit_messages: int = Field(default=_DEFAULT_LIMITS.messages, gt=0)
    rate_limit_typing: int = Field(default=_DEFAULT_LIMITS.typing, ge=0)
    allowed_origins: frozenset[str] | None = None
    """``ALLOWED_ORIGINS``: web origins allowed to open WebSockets, comma-separated; unset or ``*`` allows any."""
    max_connections_per_user: int = Field(default=10, gt=0)
    """``MAX_CONNECTIONS_PER_USER``: WebSocket connections one account may hold open at once."""
    prune_stale_after_seconds: float = Field(default=DEFAULT_PRUNE_STALE_AFTER_SECONDS, ge=0)

    @field_validator("allowed_origins", mode="before")
    @classmethod
    def _origins(cls, value: Any) -> Any:
        if isinstance(value, str):
            if not value.strip() or value.strip() == "*":
                return None
            return frozenset(o.strip().rstrip("/") for o in value.split(",") if o.strip())
        return value

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Self:
        """The settings in ``environ`` (the process environment by default)."""
        environ = os.environ if environ is None else environ
        try:
            fields = {name.lower(): value for name, value in environ.items() if name.lower() in cls.model_fields}
            return cls.model_validate(fields)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in error['loc']).upper()}: {error['msg']}" for error in exc.errors()
            )
            raise ConfigurationError(f"bad settings: {problems}") from None

    @property
    def rate_limits(self) -> RateLimits:
        return RateLimits(
            frames=self.rate_limit_frames, messages=self.rate_limit_messages, typing=self.rate_limit_typing
        )

    def require(self, name: str) -> str:
        """The value of setting ``name``; :class:`ConfigurationError` naming its variable when unset."""
        value = getattr(self, name)
        if not value:
            raise ConfigurationError(f"setting {name.upper()} is not configured")
        return str(value)
