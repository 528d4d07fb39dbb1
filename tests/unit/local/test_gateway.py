"""The emulator's route selection, as API Gateway evaluates ``$request.body.type`` with ``$default``."""

from __future__ import annotations

import pytest
from chat_local.gateway import RouteSelector

ROUTES = {"$connect", "$disconnect", "$default", "join", "1", "true", '{"a":1}'}


@pytest.fixture
def selector() -> RouteSelector:
    return RouteSelector("$request.body.type", ROUTES)


def test_route_keys_come_from_the_type_field(selector: RouteSelector) -> None:
    """A known ``type`` is its route; an unknown one, a non-object or no type go to ``$default``."""
    assert selector.select('{"type": "join", "roomId": 1}') == "join"
    for body in ('{"type": "nope"}', "[1]", '"join"', "not json", "", '{"type": null}', '{"kind": "join"}'):
        assert selector.select(body) == "$default", body


def test_a_non_string_type_is_stringified(selector: RouteSelector) -> None:
    """Numbers, booleans and objects select the route named by their JSON text (``1``, ``true``, ``{"a":1}``)."""
    assert selector.select('{"type": 1}') == "1"
    assert selector.select('{"type": true}') == "true"
    assert selector.select('{"type": {"a": 1}}') == '{"a":1}'
    assert selector.select('{"type": 2}') == "$default"


def test_lifecycle_routes_are_never_selected_by_a_message(selector: RouteSelector) -> None:
    """A frame naming ``$connect`` or ``$disconnect`` goes to ``$default``."""
    assert selector.select('{"type": "$connect"}') == "$default"
    assert selector.select('{"type": "$disconnect"}') == "$default"


def test_without_a_default_route_nothing_matches() -> None:
    """No matching route and no ``$default``: no route (the gateway answers ``Forbidden``)."""
    selector = RouteSelector("$request.body.action", {"send"})
    assert selector.select('{"action": "send"}') == "send"
    assert selector.select('{"action": "other"}') is None
    assert selector.select("not json") is None


def test_nested_paths_and_the_braced_form() -> None:
    """``${request.body.a.b}`` selects on a nested field."""
    selector = RouteSelector("${request.body.meta.kind}", {"$default", "x"})
    assert selector.select('{"meta": {"kind": "x"}}') == "x"
    assert selector.select('{"meta": "x"}') == "$default"


@pytest.mark.parametrize(
    "body",
    ["[" * 100_000 + "]" * 100_000, '{"type": "join", "x": ' + '{"a": ' * 100_000 + "1" + "}" * 100_001],
    ids=["array", "object"],
)
def test_json_nested_past_the_parsers_depth_goes_to_default(selector: RouteSelector, body: str) -> None:
    """The parser's RecursionError on deep nesting routes to ``$default`` instead of killing the socket."""
    assert selector.select(body) == "$default"
