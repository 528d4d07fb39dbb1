"""The OpenAPI document generated from the resolver: every route, its models, its security."""

from __future__ import annotations

from typing import Any

import pytest

from tests.unit.chatcore.http.rest_support import Rest, assert_error

ROUTES = {
    ("post", "/auth/register"): ("201", "AuthResponse"),
    ("post", "/auth/login"): ("200", "AuthResponse"),
    ("get", "/profile"): ("200", "ProfileOut"),
    ("patch", "/profile"): ("200", "ProfileOut"),
    ("delete", "/profile"): ("204", None),
    ("get", "/users/{username}"): ("200", "UserOut"),
    ("get", "/groups"): ("200", "GroupPage"),
    ("post", "/groups"): ("201", "GroupOut"),
    ("get", "/groups/{group_id}"): ("200", "GroupDetailOut"),
    ("get", "/groups/{group_id}/members"): ("200", "MemberPage"),
    ("patch", "/groups/{group_id}"): ("200", "GroupOut"),
    ("delete", "/groups/{group_id}"): ("204", None),
    ("post", "/groups/{group_id}/owner"): ("204", None),
    ("get", "/conversations"): ("200", "ConversationPage"),
    ("post", "/groups/{group_id}/members"): ("201", "MemberOut"),
    ("delete", "/groups/{group_id}/members/{username}"): ("204", None),
    ("get", "/groups/{group_id}/messages"): ("200", "MessagePage"),
    ("post", "/direct"): ("200", "DirectOut"),
    ("get", "/direct"): ("200", "DirectPage"),
    ("get", "/tags"): ("200", "TagListOut"),
    ("post", "/tags"): ("201", "TagOut"),
    ("delete", "/tags/{name}"): ("204", None),
    ("get", "/nicknames"): ("200", "NicknamePage"),
    ("get", "/search"): ("200", "SearchPage"),
    ("post", "/rooms/{room_id}/attachments"): ("201", "UploadOut"),
    ("get", "/attachments/{attachment_id}"): ("200", "DownloadOut"),
}
PUBLIC = {("post", "/auth/register"), ("post", "/auth/login")}


@pytest.fixture
def document(rest: Rest) -> dict[str, Any]:
    reply = rest.call("GET", "/openapi.json")
    assert reply.status == 200 and reply.headers.get("Content-Type") == "application/json"
    return dict(reply.body)


def test_document_lists_every_route_and_nothing_else(document: dict[str, Any]) -> None:
    """``GET /openapi.json`` (no token needed) is an OpenAPI 3 document with exactly the API's routes."""
    assert document["openapi"].startswith("3.")
    listed = {(method, path) for path, operations in document["paths"].items() for method in operations}
    assert listed == set(ROUTES)


@pytest.mark.parametrize(("method", "path"), sorted(ROUTES))
def test_each_route_documents_its_success_model_and_errors(document: dict[str, Any], method: str, path: str) -> None:
    """Each route names its success model, the shared error models, and bearer auth unless it is an auth route."""
    operation = document["paths"][path][method]
    status, model = ROUTES[(method, path)]
    responses = operation["responses"]
    assert status in responses
    if model is not None:
        assert model in str(responses[status]["content"]), responses[status]
    assert "ValidationErrorOut" in str(responses["422"])
    if (method, path) in PUBLIC:
        assert "security" not in operation
    else:
        assert operation["security"] == [{"bearerAuth": []}]
        assert "ErrorOut" in str(responses["401"])


def test_request_models_carry_their_limits(document: dict[str, Any]) -> None:
    """Request schemas state the validation limits (username pattern, password length, extra fields refused)."""
    schemas = document["components"]["schemas"]
    register = schemas["RegisterRequest"]
    assert register["properties"]["username"]["pattern"] == "^[A-Za-z0-9_.-]{3,32}$"
    assert (register["properties"]["password"]["minLength"], register["properties"]["password"]["maxLength"]) == (
        10,
        128,
    )
    assert register["additionalProperties"] is False
    assert schemas["TagRequest"]["properties"]["name"]["maxLength"] == 32
    assert document["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"


#: A body each protected route would accept from a member, so only the missing token can refuse it.
_VALID_BODIES: dict[tuple[str, str], Any] = {
    ("patch", "/profile"): {"nickname": "Anon"},
    ("delete", "/profile"): {"password": "anything at all"},
    ("post", "/groups"): {"name": "anonymous"},
    ("post", "/groups/{group_id}/members"): {"username": "bob"},
    ("post", "/direct"): {"username": "bob"},
    ("post", "/tags"): {"name": "rock"},
    ("patch", "/groups/{group_id}"): {"name": "renamed"},
    ("post", "/groups/{group_id}/owner"): {"username": "bob"},
}


def _row_counts(rest: Rest) -> dict[str, int]:
    tables = ("users", "rooms", "room_members", "messages", "user_tags", "login_failures")
    return {t: rest.store._db.values(f"SELECT count(*) FROM {t}")[0][0] for t in tables}  # noqa: S608


@pytest.mark.parametrize(("method", "path"), sorted(set(ROUTES) - PUBLIC))
def test_every_protected_route_needs_a_token(rest: Rest, method: str, path: str) -> None:
    """Without a token each protected route answers 401 with the generic body and changes nothing."""
    alice, bob = rest.user("alice"), rest.user("bob")
    group = rest.store.create_group("public", private=False, created_by=alice.user_id)
    rest.store.add_member(group.id, bob.user_id)
    rest.store.add_tag(alice.user_id, "rock")
    before = _row_counts(rest)
    concrete = path.replace("{group_id}", str(group.id)).replace("{username}", "bob").replace("{name}", "rock")
    body = _VALID_BODIES.get((method, path))
    reply = rest.call(method.upper(), concrete, body) if body is not None else rest.call(method.upper(), concrete)
    assert_error(reply, 401, "Invalid or missing credentials")
    assert _row_counts(rest) == before
