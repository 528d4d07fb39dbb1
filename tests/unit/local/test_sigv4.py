"""The local Management API's SigV4 check: what API Gateway accepts passes, everything else gets its 403."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import boto3
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from chat_local.sigv4 import (
    DEFAULT_ACCESS_KEY_ID,
    DEFAULT_SECRET_ACCESS_KEY,
    FORBIDDEN,
    REGION,
    UNRECOGNIZED,
    Refusal,
    canonical_request,
    stack_credentials,
    verify,
)
from chat_local.spec import FunctionSpec, LocalSpec
from chat_local.stand_ins import Locals, function_environment
from chatcore.aws.management import SignedManagementClient

from tests.helpers.signing import signed_headers

STACK = Credentials("AKIDLOCAL", "the-stack-secret")
URL = "http://127.0.0.1:8080"
PATH = "/@connections/L0SM9c%2B%2FOFvHcCIhw%3D"  # the id "L0SM9c+/OFvHcCIhw=" as boto3 puts it in the URL
BODY = b'{"type":"message","text":"hi"}'
WHEN = datetime(2025, 5, 4, 3, 2, 1)  # naive UTC, as botocore signs
NOW = WHEN.replace(tzinfo=UTC)


def check(
    headers: dict[str, str],
    *,
    method: str = "POST",
    path: str = PATH,
    body: bytes = BODY,
    credentials: Credentials = STACK,
    now: datetime = NOW,
) -> Refusal | None:
    return verify(method=method, raw_path=path, headers=headers.items(), body=body, credentials=credentials, now=now)


def botocore_signed(credentials: Credentials = STACK, **overrides: object) -> dict[str, str]:
    options: dict[str, object] = {"method": "POST", "path": PATH, "body": BODY, "at": WHEN, "region": REGION}
    options.update(overrides)
    return signed_headers(
        str(options["method"]),
        URL + str(options["path"]),
        options["body"],  # type: ignore[arg-type]
        credentials,
        at=options["at"],  # type: ignore[arg-type]
        region=str(options["region"]),
    )


def test_credentials_come_from_the_environment_else_the_documented_defaults() -> None:
    """Both keys set: those (and the session token); otherwise ``local``/``local``, the functions' defaults."""
    env = {"AWS_ACCESS_KEY_ID": "AKID", "AWS_SECRET_ACCESS_KEY": "s3cret", "AWS_SESSION_TOKEN": "tok"}
    assert stack_credentials(env).get_frozen_credentials()[:3] == ("AKID", "s3cret", "tok")
    assert stack_credentials({**env, "AWS_SESSION_TOKEN": ""}).token is None
    for partial in ({}, {"AWS_ACCESS_KEY_ID": "AKID"}, {"AWS_SECRET_ACCESS_KEY": "s3cret"}):
        assert (stack_credentials(partial).access_key, stack_credentials(partial).secret_key) == ("local", "local")
    assert (DEFAULT_ACCESS_KEY_ID, DEFAULT_SECRET_ACCESS_KEY) == ("local", "local")


def test_the_functions_get_the_credentials_and_region_the_gateway_verifies_with() -> None:
    """``function_environment`` hands the functions exactly the stack's credentials and signing region."""
    function = FunctionSpec("Fn", "fn", "stack-Fn", "/tmp", "handler.handler", "python3.12", (), {"X": "1"})
    spec = LocalSpec("stack", {"Fn": "AWS::Lambda::Function"}, {"Fn": function}, None, None, {}, ())
    local = Locals(
        region=REGION,
        credentials=Credentials("AKID", "s3cret", "tok"),
        gateway_url=URL,
        web_origins=URL,
        token_secret="t" * 48,
    )
    environment = function_environment(spec, function, local)
    assert stack_credentials(environment).get_frozen_credentials()[:3] == ("AKID", "s3cret", "tok")
    assert environment["AWS_REGION"] == environment["AWS_DEFAULT_REGION"] == REGION


@pytest.mark.parametrize("method", ["POST", "GET", "DELETE"])
@pytest.mark.parametrize("token", [None, "session-token"], ids=["keys", "session"])
def test_a_request_botocore_signed_with_the_stacks_credentials_passes(method: str, token: str | None) -> None:
    """boto3's own signature (what ``get_connection`` and the benchmarks send) is accepted."""
    credentials = Credentials(STACK.access_key, STACK.secret_key, token)
    body = BODY if method == "POST" else b""
    headers = botocore_signed(credentials, method=method, body=body)
    assert check(headers, method=method, body=body, credentials=credentials) is None


def test_the_functions_fast_signed_post_passes() -> None:
    """``SignedManagementClient`` (how the functions post) signs in a way the emulator accepts."""
    boto_client = boto3.client(
        "apigatewaymanagementapi",
        endpoint_url=URL,
        region_name=REGION,
        aws_access_key_id=STACK.access_key,
        aws_secret_access_key=STACK.secret_key,
    )
    client = SignedManagementClient(boto_client, STACK)
    headers = client._signed_headers(PATH, BODY, NOW)
    assert check(headers) is None
    assert check(client._signed_headers(PATH, BODY, NOW + timedelta(minutes=10))) is not None  # a live check


def test_missing_or_unreadable_authorization_is_forbidden() -> None:
    """No Authorization, another scheme, missing parts or no X-Amz-Date: 403 ForbiddenException "Forbidden"."""
    good = botocore_signed()
    without_date = {k: v for k, v in good.items() if k.lower() != "x-amz-date"}
    for headers in (
        {},
        {"Host": "127.0.0.1:8080"},
        {**good, "Authorization": "Bearer abc"},
        {**good, "Authorization": "AWS4-HMAC-SHA256 Credential=AKIDLOCAL/20250504/us-east-1/execute-api/aws4_request"},
        {**good, "Authorization": "AWS4-HMAC-SHA256 garbage"},
        without_date,
        {**good, "X-Amz-Date": "yesterday"},
    ):
        assert check(headers) == FORBIDDEN, headers
    assert (FORBIDDEN.status, FORBIDDEN.error_type, FORBIDDEN.message) == (403, "ForbiddenException", "Forbidden")


def test_an_unknown_access_key_or_session_token_is_unrecognized() -> None:
    """Another access key id, a token the stack does not have, or a missing one: UnrecognizedClientException."""
    assert check(botocore_signed(Credentials("AKIDOTHER", STACK.secret_key))) == UNRECOGNIZED
    assert check(botocore_signed(Credentials(STACK.access_key, STACK.secret_key, "a-token"))) == UNRECOGNIZED
    with_token = Credentials(STACK.access_key, STACK.secret_key, "the-token")
    assert check(botocore_signed(STACK), credentials=with_token) == UNRECOGNIZED
    assert check(botocore_signed(with_token), credentials=with_token) is None


@pytest.mark.parametrize(
    "change",
    [
        {"credentials": Credentials(STACK.access_key, "another-secret")},
        {"region": "eu-west-1"},
        {"body": b'{"type":"message","text":"something else"}'},
        {"path": "/@connections/someone-else"},
        {"method": "DELETE"},
    ],
    ids=["secret", "region", "body", "connection", "method"],
)
def test_a_signature_for_anything_else_does_not_match(change: dict[str, object]) -> None:
    """Signed with another secret or region, or for another body, connection or method: InvalidSignature."""
    refusal = check(botocore_signed(**change))  # type: ignore[arg-type]
    assert refusal is not None and refusal.error_type == "InvalidSignatureException"
    assert refusal.message.startswith(
        "The request signature we calculated does not match the signature you provided. Check your AWS Secret"
        " Access Key and signing method. Consult the service documentation for details.\n\n"
        "The Canonical String for this request should have been\n'POST\n/%40connections/"
    )


def test_a_changed_signed_header_or_content_hash_does_not_match() -> None:
    """A signed header altered in transit, or an X-Amz-Content-SHA256 that is not the body's, is refused."""
    good = botocore_signed()
    assert check(good) is None
    assert check({**good, "Host": "evil.example"}) is not None
    assert check({**good, "X-Amz-Content-SHA256": "0" * 64}) is not None


def test_a_timestamp_more_than_five_minutes_off_gets_aws_messages() -> None:
    """Exactly API Gateway's texts for a stale or early signature; up to five minutes either way passes."""
    assert check(botocore_signed(), now=NOW + timedelta(minutes=5)) is None
    assert check(botocore_signed(), now=NOW - timedelta(minutes=5)) is None
    assert check(botocore_signed(), now=NOW + timedelta(minutes=5, seconds=1)) == Refusal(
        "InvalidSignatureException",
        "Signature expired: 20250504T030201Z is now earlier than 20250504T030202Z (20250504T030702Z - 5 min.)",
    )
    assert check(botocore_signed(), now=NOW - timedelta(minutes=6)) == Refusal(
        "InvalidSignatureException",
        "Signature not yet current: 20250504T030201Z is still later than 20250504T030101Z (20250504T025601Z + 5 min.)",
    )


@pytest.mark.parametrize(
    ("method", "raw_path", "headers", "signed", "body"),
    [
        ("POST", PATH, [("host", "127.0.0.1:8080"), ("x-amz-date", "20250504T030201Z")], ["host", "x-amz-date"], BODY),
        ("get", "/prod/./@connections/../@connections//a%3D", [("host", "h")], ["host"], b""),
        (
            "DELETE",
            "/@connections/x?b=2&a=1&a=0",
            [("host", "h"), ("x-amz-date", "20250504T030201Z")],
            ["x-amz-date"],
            b"",
        ),
        (
            "POST",
            PATH,
            [("host", "h"), ("x-custom", "  two   spaces "), ("x-custom", "again"), ("user-agent", "ua")],
            ["host", "x-custom", "user-agent"],
            BODY,
        ),
        (
            "POST",
            PATH,
            [("host", "h"), ("x-amz-content-sha256", "UNSIGNED-PAYLOAD")],
            ["host", "x-amz-content-sha256"],
            BODY,
        ),
    ],
    ids=["post", "dot-segments", "query-no-host-signed", "repeated-and-blacklisted", "content-sha256"],
)
def test_the_canonical_request_is_the_one_botocore_writes(
    method: str, raw_path: str, headers: list[tuple[str, str]], signed: list[str], body: bytes
) -> None:
    """The emulator's own canonical request equals botocore's SigV4Auth's for the same signed request."""
    received: dict[str, list[str]] = {}
    for name, value in headers:
        received.setdefault(name, []).append(value)
    request = AWSRequest(method=method.upper(), url=f"http://{received['host'][0]}{raw_path}", data=body)
    for name in signed:
        for value in received.get(name, []):
            request.headers[name] = value
    expected = SigV4Auth(STACK, "execute-api", REGION).canonical_request(request)
    assert canonical_request(method, raw_path, received["host"][0], received, signed, body) == expected
