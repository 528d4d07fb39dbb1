"""Login throttling over real HTTP: the local gateway passes each client's own address (127.0.0.x) on."""

from __future__ import annotations

import http.client
import json
from urllib.parse import urlsplit

from tests.helpers.clients import Api
from tests.helpers.stack import StackProcess


def _login_from(stack: StackProcess, address: str, username: str, password: str) -> tuple[int, dict[str, str]]:
    """POST /auth/login from a socket bound to ``address`` (every 127.0.0.x reaches the stack on 127.0.0.1)."""
    parts = urlsplit(stack.api_url)
    connection = http.client.HTTPConnection(
        parts.hostname or "127.0.0.1", parts.port, timeout=30, source_address=(address, 0)
    )
    try:
        body = json.dumps({"username": username, "password": password})
        connection.request("POST", f"{parts.path}/auth/login", body, {"content-type": "application/json"})
        response = connection.getresponse()
        response.read()
        return response.status, dict(response.getheaders())
    finally:
        connection.close()


def test_guessers_are_stopped_per_address_and_the_owner_still_gets_in(stack: StackProcess, api: Api) -> None:
    """Two guessing addresses are refused after five failures each; the owner, from a third, logs in."""
    owner = api.register("owner")
    for guesser in ("127.0.0.2", "127.0.0.3"):
        for _ in range(5):
            assert _login_from(stack, guesser, owner.username, "a wrong guess")[0] == 401
        status, headers = _login_from(stack, guesser, owner.username, owner.password)
        assert status == 429 and 1 <= int(headers["Retry-After"]) <= 900
    assert _login_from(stack, "127.0.0.4", owner.username, owner.password)[0] == 200
