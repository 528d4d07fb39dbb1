"""Reading the app's settings from CDK context."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App
from aws_cdk import aws_logs as logs

from infra.chat_infra.config import RESERVABLE_FUNCTIONS, ChatConfig, ConfigError
from infra.chat_infra.paths import REPO_ROOT


def _config(**context: Any) -> ChatConfig:
    return ChatConfig.from_context(App(context=context).node)


def test_defaults_suit_a_small_team() -> None:
    """With no context: stage prod, NAT on, deletion protection on, single-AZ t4g.micro."""
    config = _config()
    assert (config.stage, config.stack_name) == ("prod", "chat-prod")
    assert config.nat_gateway and config.deletion_protection and not config.db_multi_az
    assert config.db_instance_class == "t4g.micro"
    assert config.allowed_origins == ()


def test_command_line_strings_are_parsed() -> None:
    """-c values arrive as strings: booleans, integers and comma-separated origins are parsed."""
    config = _config(
        stage="dev",
        natGateway="false",
        deletionProtection="no",
        dbMultiAz="true",
        functionMemoryMb="1024",
        allowedOrigins="https://a.example.com/, http://localhost:8000",
        logRetentionDays="45",
    )
    assert config.stack_name == "chat-dev"
    assert not config.nat_gateway and not config.deletion_protection and config.db_multi_az
    assert config.function_memory_mb == 1024
    assert config.allowed_origins == ("https://a.example.com", "http://localhost:8000")
    assert config.log_retention == logs.RetentionDays.TWO_MONTHS


@pytest.mark.parametrize(
    "context",
    [
        {"natGateway": "maybe"},
        {"stage": "has space"},
        {"allowedOrigins": "chat.example.com"},
        {"allowedOrigins": "https://chat.example.com/path"},
        {"functionMemoryMb": "64"},
        {"dbInstanceClass": "db t4g micro"},
        {"dbAllocatedStorageGb": "50", "dbMaxAllocatedStorageGb": "30"},
        {"alarmEmail": "not-an-address"},
        {"proxyBorrowTimeoutSeconds": "0"},
        {"proxyMaxConnectionsPercent": "101"},
        {"reservedConcurrencyMessage": "-1"},
        {"reservedConcurrencyRest": "lots"},
        {"cloudFrontLogging": "sometimes"},
        {"rdsCaBundle": " "},
        {"fanoutWorkerTimeoutSeconds": "901"},
        {"fanoutWorkerTimeoutSeconds": "30", "fanoutVisibilityTimeoutSeconds": "29"},
    ],
)
def test_invalid_context_is_refused(context: dict[str, str]) -> None:
    """A malformed context value stops the synth with a message naming the key."""
    with pytest.raises(ConfigError):
        _config(**context)


def test_hardening_settings_default_and_parse() -> None:
    """Proxy pool, reserved concurrency, CloudFront logging and the RDS bundle: defaults, then -c strings."""
    default = _config()
    assert (default.proxy_borrow_timeout_seconds, default.proxy_max_connections_percent) == (5, 80)
    assert default.reserved_concurrency == {}
    assert default.cloudfront_logging is True
    assert default.rds_ca_bundle_path == REPO_ROOT / "infra" / "certs" / "rds-global-bundle.pem"
    config = _config(
        proxyBorrowTimeoutSeconds="3",
        proxyMaxConnectionsPercent="60",
        reservedConcurrencyConnect="5",
        reservedConcurrencyMessage="off",
        reservedConcurrencyRest="20",
        cloudFrontLogging="false",
        rdsCaBundle="/etc/ssl/rds/global-bundle.pem",
    )
    assert (config.proxy_borrow_timeout_seconds, config.proxy_max_connections_percent) == (3, 60)
    assert config.reserved_concurrency == {"connect": 5, "rest": 20}
    assert config.cloudfront_logging is False
    assert config.rds_ca_bundle_path == Path("/etc/ssl/rds/global-bundle.pem")


def test_the_fanout_visibility_timeout_is_six_worker_timeouts_unless_set() -> None:
    """By default the fan-out queue hides a received job for six times the worker's 60 s timeout; both can be
    set (a test stack retries a killed worker's job within seconds), the visibility never below the timeout."""
    default = _config()
    assert (default.fanout_worker_timeout_seconds, default.fanout_visibility_timeout) == (60, 360)
    assert _config(fanoutWorkerTimeoutSeconds="10").fanout_visibility_timeout == 60
    config = _config(fanoutWorkerTimeoutSeconds="15", fanoutVisibilityTimeoutSeconds="15")
    assert (config.fanout_worker_timeout_seconds, config.fanout_visibility_timeout) == (15, 15)


def test_cdk_json_spells_out_the_hardening_defaults() -> None:
    """cdk.json's context gives the same defaults as ChatConfig, so a deployer sees every key there."""
    context = json.loads((REPO_ROOT / "cdk.json").read_text())["context"]
    assert ChatConfig.from_context(App(context=context).node) == ChatConfig()
    for key in ("proxyBorrowTimeoutSeconds", "proxyMaxConnectionsPercent", "cloudFrontLogging", "rdsCaBundle"):
        assert key in context, key
    assert {f"reservedConcurrency{f.capitalize()}" for f in RESERVABLE_FUNCTIONS} <= set(context)
