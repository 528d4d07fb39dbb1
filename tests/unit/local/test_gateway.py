"""The emulator's route selection, as API Gateway's ``$request.body.type`` with ``$default``."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from chat_local.gateway import Gateway


@pytest.fixture
def gateway() -> Iterator[Gateway]:
    made = Gateway()
    yield made
    made.close()


def test_route_keys_come_from_the_type_field(gateway: Gateway) -> None:
    """A known ``type`` is its route; an unknown one, a non-object or a non-string type go to ``$default``."""
    assert gateway._route_key('{"type": "join", "roomId": 1}') == "join"
    for body in ('{"type": "nope"}', '{"type": 1}', "[1]", '"join"', "not json", ""):
        assert gateway._route_key(body) == "$default", body


@pytest.mark.parametrize(
    "body",
    ["[" * 100_000 + "]" * 100_000, '{"type": "join", "x": ' + '{"a": ' * 100_000 + "1" + "}" * 100_001],
    ids=["array", "object"],
)
def test_json_nested_past_the_parsers_depth_goes_to_default(gateway: Gateway, body: str) -> None:
    """The parser's RecursionError on deep nesting routes to ``$default`` instead of killing the socket."""
    assert gateway._route_key(body) == "$default"
