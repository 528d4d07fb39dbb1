"""SigV4 for the local Management API: the credentials the stack runs with, and API Gateway's check of a request.

API Gateway authorizes every ``/@connections/{id}`` call with IAM: a request must be signed with Signature
Version 4 for the service ``execute-api`` and the API's region, by credentials it knows, within five
minutes of its ``X-Amz-Date``. The local stack has one pair of credentials (:func:`stack_credentials`):
its functions sign with them and the emulator recomputes each signature with them, so a page or a
program that only knows the port cannot post to, read or close anyone's connection.

The answers are API Gateway's (403 with ``x-amzn-ErrorType`` and a JSON ``message``):

* no or an unreadable ``Authorization`` (or no ``X-Amz-Date``): ``ForbiddenException``, ``Forbidden``,
  as the Management API answers a request it does not authorize (boto3 raises ``ForbiddenException``);
* an access key (or session token) it does not know: ``UnrecognizedClientException``, "The security
  token included in the request is invalid.";
* a signature that does not match (another secret, another region or service, a changed path, header
  or body): ``InvalidSignatureException``, "The request signature we calculated does not match ...",
  followed by the canonical request and string to sign, as AWS gives them;
* a timestamp more than 5 minutes away: ``InvalidSignatureException``, "Signature expired: ..." or
  "Signature not yet current: ...".
"""

from __future__ import annotations

import functools
import hashlib
import hmac
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

from botocore.auth import SIGNED_HEADERS_BLACKLIST
from botocore.credentials import Credentials
from botocore.utils import normalize_url_path

REGION = "us-east-1"
"""The region the local stack runs in: its functions' ``AWS_REGION`` and the Management API's signing region."""
SERVICE = "execute-api"
DEFAULT_ACCESS_KEY_ID = "local"
DEFAULT_SECRET_ACCESS_KEY = "local"  # noqa: S105 - the documented local default, not a secret
MAX_CLOCK_SKEW = timedelta(minutes=5)
"""How far ``X-Amz-Date`` may be from now: API Gateway answers "Signature expired: ... (now - 5 min.)"."""

_STAMP = "%Y%m%dT%H%M%SZ"
_ALGORITHM = "AWS4-HMAC-SHA256"
_MISMATCH = (
    "The request signature we calculated does not match the signature you provided. Check your AWS Secret"
    " Access Key and signing method. Consult the service documentation for details."
)


def stack_credentials(environ: Mapping[str, str]) -> Credentials:
    """The credentials the local stack runs with: ``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY`` (and
    ``AWS_SESSION_TOKEN``) from ``environ`` when both keys are set, else ``local``/``local``.

    The one source: the functions get them in their environment, the emulator verifies with them.
    """
    access_key, secret_key = environ.get("AWS_ACCESS_KEY_ID"), environ.get("AWS_SECRET_ACCESS_KEY")
    if access_key and secret_key:
        return Credentials(access_key, secret_key, environ.get("AWS_SESSION_TOKEN") or None)
    return Credentials(DEFAULT_ACCESS_KEY_ID, DEFAULT_SECRET_ACCESS_KEY)


def credentials_environment(credentials: Credentials) -> dict[str, str]:
    """The environment variables that make boto3 (and so the functions) sign with ``credentials``.

    Without a session token there is no ``AWS_SESSION_TOKEN`` here: the caller removes one it inherited.
    """
    environment = {"AWS_ACCESS_KEY_ID": credentials.access_key, "AWS_SECRET_ACCESS_KEY": credentials.secret_key}
    if credentials.token:
        environment["AWS_SESSION_TOKEN"] = credentials.token
    return environment


@dataclass(frozen=True)
class Refusal:
    """Why API Gateway refuses a request: its ``x-amzn-ErrorType`` and the JSON body's ``message`` (403)."""

    error_type: str
    message: str
    status: int = 403


FORBIDDEN = Refusal("ForbiddenException", "Forbidden")
UNRECOGNIZED = Refusal("UnrecognizedClientException", "The security token included in the request is invalid.")


def verify(
    *,
    method: str,
    raw_path: str,
    headers: Iterable[tuple[str, str]],
    body: bytes,
    credentials: Credentials,
    region: str = REGION,
    now: datetime | None = None,
) -> Refusal | None:
    """``None`` if the request is signed, as API Gateway checks it, by ``credentials``; else the refusal.

    ``raw_path`` is the request target as it arrived (still percent-encoded, with any query string),
    ``headers`` every header as received. The request is rebuilt from what was signed -- its method, path,
    the headers its ``SignedHeaders`` names, its body and its own ``X-Amz-Date`` -- and signed again
    as botocore's ``SigV4Auth`` signs (:func:`canonical_request`); the two signatures are compared in
    constant time.
    """
    received: dict[str, list[str]] = {}
    for name, value in headers:
        received.setdefault(name.lower(), []).append(value)

    def first(name: str) -> str | None:
        values = received.get(name)
        return values[0] if values else None

    parsed = _parse_authorization(first("authorization") or "")
    stamp = first("x-amz-date") or ""
    when = _parse_stamp(stamp)
    if parsed is None or when is None:
        return FORBIDDEN
    credential, signed_names, signature = parsed
    if not hmac.compare_digest(credential.split("/", 1)[0].encode(), credentials.access_key.encode()):
        return UNRECOGNIZED
    if not hmac.compare_digest((first("x-amz-security-token") or "").encode(), (credentials.token or "").encode()):
        return UNRECOGNIZED

    host = first("host") or "localhost"
    canonical = canonical_request(method, raw_path, host, received, signed_names, body)
    date = stamp[:8]
    scope = f"{date}/{region}/{SERVICE}/aws4_request"
    string_to_sign = f"{_ALGORITHM}\n{stamp}\n{scope}\n{hashlib.sha256(canonical.encode()).hexdigest()}"
    key = _signing_key(credentials.secret_key, date, region)
    expected = hmac.new(key, string_to_sign.encode(), "sha256").hexdigest()
    content_sha256 = first("x-amz-content-sha256")
    body_intact = content_sha256 is None or hmac.compare_digest(
        content_sha256.encode(), hashlib.sha256(body).hexdigest().encode()
    )
    if not hmac.compare_digest(expected.encode(), signature.encode()) or not body_intact:
        return Refusal(
            "InvalidSignatureException",
            f"{_MISMATCH}\n\nThe Canonical String for this request should have been\n'{canonical}'\n\n"
            f"The String-to-Sign should have been\n'{string_to_sign}'\n",
        )

    now = (now or datetime.now(UTC)).replace(microsecond=0)
    minutes = int(MAX_CLOCK_SKEW.total_seconds() // 60)
    if when < now - MAX_CLOCK_SKEW:
        return Refusal(
            "InvalidSignatureException",
            f"Signature expired: {stamp} is now earlier than {_format(now - MAX_CLOCK_SKEW)}"
            f" ({_format(now)} - {minutes} min.)",
        )
    if when > now + MAX_CLOCK_SKEW:
        return Refusal(
            "InvalidSignatureException",
            f"Signature not yet current: {stamp} is still later than {_format(now + MAX_CLOCK_SKEW)}"
            f" ({_format(now)} + {minutes} min.)",
        )
    return None


def canonical_request(
    method: str, raw_path: str, host: str, received: Mapping[str, list[str]], signed_names: list[str], body: bytes
) -> str:
    """SigV4's canonical request, as botocore's ``SigV4Auth.canonical_request`` writes it for a request
    rebuilt from what was signed: ``received`` maps each lower-case header name to its values as they came.

    Written out rather than built through botocore's ``AWSRequest``, which cost the emulator a fifth of its
    CPU per post (``tests/unit/local/test_sigv4.py`` checks the two agree).
    """
    path, _, query = raw_path.partition("?")
    pairs = sorted(pair.partition("=")[::2] for pair in query.split("&")) if query else []
    # botocore signs every header it is given except these, and the Host always.
    names = {name for name in signed_names if name not in SIGNED_HEADERS_BLACKLIST} | {"host"}
    values = {name: received.get(name, []) for name in names}
    values["host"] = values["host"] or [host]
    canonical_headers = "".join(
        f"{name}:{','.join(' '.join(v.split()) for v in values[name])}\n" for name in sorted(names)
    )
    content_sha256 = received.get("x-amz-content-sha256") if "x-amz-content-sha256" in names else None
    return "\n".join(
        [
            method.upper(),
            quote(normalize_url_path(path), safe="/~"),
            "&".join(f"{key}={value}" for key, value in pairs),
            canonical_headers,
            ";".join(sorted(names)),
            content_sha256[0] if content_sha256 else hashlib.sha256(body).hexdigest(),
        ]
    )


@functools.lru_cache(maxsize=16)
def _signing_key(secret_key: str, date: str, region: str) -> bytes:
    """SigV4's derived key: it changes once a day, so it is computed once a day."""
    key = ("AWS4" + secret_key).encode()
    for part in (date, region, SERVICE, "aws4_request"):
        key = hmac.new(key, part.encode(), "sha256").digest()
    return key


def _parse_authorization(value: str) -> tuple[str, list[str], str] | None:
    """(Credential, the SignedHeaders names, Signature) of a SigV4 ``Authorization`` header, or ``None``."""
    algorithm, _, rest = value.strip().partition(" ")
    if algorithm != _ALGORITHM:
        return None
    fields: dict[str, str] = {}
    for part in rest.split(","):
        key, separator, item = part.strip().partition("=")
        if not separator:
            return None
        fields[key] = item
    credential, names, signature = (fields.get(k, "") for k in ("Credential", "SignedHeaders", "Signature"))
    if not credential or not names or not signature:
        return None
    return credential, [n.strip().lower() for n in names.split(";")], signature


def _parse_stamp(stamp: str) -> datetime | None:
    """``X-Amz-Date`` (``20261202T051500Z``) as a time, or ``None`` if it is not one."""
    if (
        len(stamp) != 16
        or stamp[8] != "T"
        or stamp[15] != "Z"
        or not (digits := stamp[:8] + stamp[9:15]).isascii()
        or not digits.isdigit()
    ):
        return None
    try:
        return datetime(
            int(stamp[0:4]),
            int(stamp[4:6]),
            int(stamp[6:8]),
            int(stamp[9:11]),
            int(stamp[11:13]),
            int(stamp[13:15]),
            tzinfo=UTC,
        )
    except ValueError:  # a month 13, a 30 February
        return None


def _format(moment: datetime) -> str:
    return moment.strftime(_STAMP)
