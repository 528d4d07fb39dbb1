"""Reading the app's settings from CDK context."""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk import App
from aws_cdk import aws_logs as logs

from infra.chat_infra.config import ChatConfig, ConfigError


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
    ],
)
def test_invalid_context_is_refused(context: dict[str, str]) -> None:
    """A malformed context value stops the synth with a message naming the key."""
    with pytest.raises(ConfigError):
        _config(**context)
