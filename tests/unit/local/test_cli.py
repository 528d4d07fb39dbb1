"""``chat-local``'s configuration: where browsers reach it and which web origins it trusts."""

from __future__ import annotations

import pytest
from chat_local.cli import _local_origins, _public_url, _web_origins, parse_args


def test_web_origins_are_the_uis_own_and_the_allowed_ones_never_any() -> None:
    """CORS origins: 127.0.0.1, localhost and the host on the port, plus extras; never ``*``, even on 0.0.0.0."""
    assert _web_origins("127.0.0.1", 8080, []) == {"http://127.0.0.1:8080", "http://localhost:8080"}
    assert _web_origins("0.0.0.0", 8080, ["https://Chat.Example/"]) == {
        "http://127.0.0.1:8080",
        "http://localhost:8080",
        "https://chat.example",
    }
    assert "http://[::1]:8080" in _web_origins("::1", 8080, [])
    assert "*" not in _web_origins("0.0.0.0", 8080, [])
    assert _local_origins("0.0.0.0", 8080, []) == "*"  # WebSockets: any address may be the page's on 0.0.0.0
    assert _local_origins("127.0.0.1", 8080, []) == "http://127.0.0.1:8080,http://localhost:8080"


def test_the_public_url_is_the_option_else_the_listening_address() -> None:
    """``--public-url`` wins; else ``http://HOST:PORT``, with 127.0.0.1 for any-address and brackets for IPv6."""
    assert _public_url("127.0.0.1", 8080, None) == "http://127.0.0.1:8080"
    assert _public_url("0.0.0.0", 8080, None) == "http://127.0.0.1:8080"
    assert _public_url("::1", 8080, None) == "http://[::1]:8080"
    assert _public_url("0.0.0.0", 8080, "https://chat.example/") == "https://chat.example"


def test_test_endpoints_are_off_unless_asked_and_urls_are_checked() -> None:
    """``--test-endpoints`` defaults off; an origin or public URL that is not http(s) is refused."""
    assert parse_args([]).test_endpoints is False
    assert parse_args(["--test-endpoints"]).test_endpoints is True
    for bad in (["--allowed-origin", "chat.example"], ["--public-url", "ftp://chat.example"]):
        with pytest.raises(SystemExit):
            parse_args(bad)
