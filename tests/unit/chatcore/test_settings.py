"""The functions' settings: typed, read from the environment, and errors that name the variable."""

from __future__ import annotations

import pytest
from chatcore.settings import ConfigurationError, Settings


def test_settings_read_limits_and_origins_from_the_environment() -> None:
    """Rate limits and allowed origins come from the environment, with '*' meaning any origin."""
    settings = Settings.from_env(
        {
            "RATE_LIMIT_MESSAGES": "7",
            "ALLOWED_ORIGINS": "https://a.example/, https://b.example",
        }
    )
    assert settings.rate_limits.messages == 7
    assert settings.allowed_origins == frozenset({"https://a.example", "https://b.example"})
    assert Settings.from_env({"ALLOWED_ORIGINS": "*"}).allowed_origins is None


@pytest.mark.parametrize(
    ("environ", "variable"),
    [
        ({"RATE_LIMIT_MESSAGES": "many"}, "RATE_LIMIT_MESSAGES"),
        ({"TOKEN_TTL_SECONDS": "-5"}, "TOKEN_TTL_SECONDS"),
        ({"BROADCAST_MAX_WORKERS": "0"}, "BROADCAST_MAX_WORKERS"),
    ],
)
def test_a_bad_value_is_refused_naming_its_variable(environ: dict[str, str], variable: str) -> None:
    """A value of the wrong type or range raises ConfigurationError that names the variable."""
    with pytest.raises(ConfigurationError, match=variable):
        Settings.from_env(environ)


def test_a_missing_setting_is_named_when_a_function_needs_it() -> None:
    """require() on an unset setting raises ConfigurationError naming the variable to set."""
    settings = Settings.from_env({})
    with pytest.raises(ConfigurationError, match="CONNECTIONS_TABLE"):
        settings.require("connections_table")
    assert Settings.from_env({"CONNECTIONS_TABLE": "t"}).require("connections_table") == "t"
