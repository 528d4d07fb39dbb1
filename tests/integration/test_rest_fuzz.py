"""Property-based: arbitrary bodies and parameters to every route of the running stack never cause a 5xx.

Schemathesis turns the served OpenAPI document (``/api/openapi.json``) into Hypothesis strategies, both
schema-valid requests (which reach deep into the handlers) and schema-violating ones. Hypothesis runs
derandomized with no example database, so CI sees the same cases every run (set ``REST_FUZZ_RANDOM=1``
and ``REST_FUZZ_EXAMPLES`` for a longer random hunt).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import response_schema_conformance

from tests.helpers.clients import Api
from tests.helpers.stack import StackProcess

OPERATIONS = [
    ("POST", "/auth/register"),
    ("POST", "/auth/login"),
    ("GET", "/profile"),
    ("PATCH", "/profile"),
    ("GET", "/users/{username}"),
    ("GET", "/groups"),
    ("POST", "/groups"),
    ("GET", "/groups/{group_id}"),
    ("POST", "/groups/{group_id}/members"),
    ("DELETE", "/groups/{group_id}/members/{username}"),
    ("GET", "/groups/{group_id}/messages"),
    ("POST", "/direct"),
    ("GET", "/direct"),
    ("GET", "/tags"),
    ("POST", "/tags"),
    ("DELETE", "/tags/{name}"),
    ("GET", "/nicknames"),
]
# 17 routes x 50 requests stays under a minute on a 2-core machine (registrations hash a password each).
# For a deeper hunt: REST_FUZZ_EXAMPLES=500 REST_FUZZ_RANDOM=1 uv run pytest tests/integration/test_rest_fuzz.py
EXAMPLES_PER_ROUTE = int(os.environ.get("REST_FUZZ_EXAMPLES", "50"))
DERANDOMIZE = os.environ.get("REST_FUZZ_RANDOM") != "1"
TRACE_MARKERS = ("Traceback", 'File "', "psycopg", "pydantic_core")


@dataclass
class Target:
    schema: Any
    base_url: str
    token: str
    own_group: int
    """A group the fuzzing user owns, so valid requests also reach past "not found"."""
    session: requests.Session


@pytest.fixture(scope="module")
def target(stack: StackProcess) -> Any:
    api = Api(stack.api_url)
    fuzzer = api.register("fuzzer")
    own_group = api.create_group(fuzzer, "fuzzed", private=True)
    schema = schemathesis.openapi.from_url(f"{stack.api_url}/openapi.json")
    with requests.Session() as session:
        yield Target(schema, stack.api_url, fuzzer.token, own_group, session)


def _content_type(response: Any) -> str:
    for name, value in response.headers.items():
        if name.lower() == "content-type":
            return str(value[0] if isinstance(value, list) else value)
    return ""


def _gateway_cannot_route(response: Any) -> bool:
    """The local gateway's own plain 404 for a path with a control character (its /api route does not match
    a newline), before any Lambda runs; API Gateway hands such paths to the function, which answers JSON."""
    path = unquote(urlsplit(response.request.url).path)
    return (
        response.status_code == 404
        and _content_type(response).startswith("text/plain")
        and any(ord(c) < 32 for c in path)
    )


def _assert_well_behaved(response: Any) -> None:
    text, request = response.text, f"{response.request.method} {response.request.url}"
    assert response.status_code < 500, f"{request} -> {response.status_code}: {text[:500]}"
    for marker in TRACE_MARKERS:
        assert marker not in text, f"{request} -> {text[:500]}"
    if response.status_code >= 400:
        if _gateway_cannot_route(response):
            return
        assert _content_type(response).startswith("application/json"), f"{request} -> {text[:200]}"
        body = json.loads(text)
        assert body["statusCode"] == response.status_code and isinstance(body["message"], str), (request, body)


@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_arbitrary_requests_never_cause_a_server_error_or_leak_a_trace(target: Target, method: str, path: str) -> None:
    """Valid and invalid bodies, parameters and tokens: always a 2xx/4xx JSON answer, never a 5xx or trace."""
    operation = target.schema[path][method]
    cases = st.one_of(
        operation.as_strategy(GenerationMode.POSITIVE),
        operation.as_strategy(GenerationMode.NEGATIVE),
    )

    @settings(
        max_examples=EXAMPLES_PER_ROUTE,
        derandomize=DERANDOMIZE,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        phases=[Phase.explicit, Phase.generate, Phase.shrink],  # no example database, no slow 'explain'
    )
    @given(case=cases, credentials=st.integers(0, 9), aim=st.booleans())
    def run(case: Any, credentials: int, aim: bool) -> None:
        if aim and case.path_parameters and "group_id" in case.path_parameters:
            case.path_parameters["group_id"] = target.own_group
        # Mostly the fuzzing user's token (to get past authentication), sometimes none or a forged one.
        headers = [{"Authorization": f"Bearer {target.token}"}] * 8 + [{}, {"Authorization": "Bearer x.y.z"}]
        response = case.call(base_url=target.base_url, session=target.session, headers=headers[credentials])
        _assert_well_behaved(response)
        if 200 <= response.status_code < 300:
            # What the API answers matches what its document promises.
            case.validate_response(response, checks=[response_schema_conformance])

    run()
