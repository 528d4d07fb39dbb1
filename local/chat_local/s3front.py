"""S3's two browser-facing operations for the local stack, checked as S3 checks them, stored in moto.

In AWS the browser uploads an attachment with a presigned POST and downloads it with a presigned GET, both
straight to S3, which enforces the POST policy (key, exact size, content type, tagging, expiry) and the
signatures. moto stores objects but checks neither, so the stack serves these two operations itself at
``/_s3/{bucket}[/{key}]`` (the browser's own origin, so no CORS is involved), refuses what S3 refuses with
S3's error codes, and keeps the bytes in moto's S3 (the same moto server as DynamoDB), where the
functions' own calls (tagging, deletion) find them.

* ``POST /_s3/{bucket}``: a multipart form; the fields before ``file`` must all be covered by the signed
  policy's conditions, and the file's size must be within its ``content-length-range``
  (``EntityTooLarge``/``EntityTooSmall``); bad signature ``SignatureDoesNotMatch``; expired policy or a
  failed condition ``AccessDenied`` "Invalid according to Policy: ...". 204 (or ``success_action_status``).
* ``GET /_s3/{bucket}/{key}``: a query-signed URL (SigV4, ``UNSIGNED-PAYLOAD``), refused with
  ``AccessDenied`` "Request has expired" after ``X-Amz-Expires``, answered with the object's bytes and the
  ``response-content-type``/``response-content-disposition`` the URL signed.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
import json
import logging
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, quote, urlencode
from xml.etree import ElementTree

from aiohttp import BodyPartReader, web
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

log = logging.getLogger("local_stack")

PREFIX = "/_s3"
_ALGORITHM = "AWS4-HMAC-SHA256"
_STAMP = "%Y%m%dT%H%M%SZ"
# Form fields that no policy condition needs to cover (S3's documented exceptions).
_UNCOVERED = {"policy", "x-amz-signature", "file"}
_CHUNK = 64 * 1024
_MAX_EXPIRES = 7 * 24 * 3600


def _error(status: int, code: str, message: str, **extra: str) -> web.Response:
    """S3's XML error document."""
    root = ElementTree.Element("Error")
    for name, value in {"Code": code, "Message": message, **extra}.items():
        ElementTree.SubElement(root, name).text = value
    body = b'<?xml version="1.0" encoding="UTF-8"?>\n' + ElementTree.tostring(root)
    return web.Response(status=status, body=body, content_type="application/xml")


def _policy_denied(reason: str) -> web.Response:
    return _error(403, "AccessDenied", f"Invalid according to Policy: {reason}")


def _signing_key(secret: str, date: str, region: str, service: str = "s3") -> bytes:
    key = hmac.new(f"AWS4{secret}".encode(), date.encode(), hashlib.sha256).digest()
    for part in (region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


def _uri_encode(value: str) -> str:
    return quote(value, safe="-_.~")


class S3Front:
    """Serves the presigned POST and GET of the attachment bucket; ``client`` talks to moto's S3."""

    def __init__(
        self,
        client: S3Client,
        credentials: Credentials,
        region: str,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._clock = clock
        self._client = client
        self._credentials = credentials
        self._region = region

    def add_routes(self, app: web.Application) -> None:
        app.router.add_post(PREFIX + "/{bucket}", self.upload)
        app.router.add_post(PREFIX + "/{bucket}/", self.upload)
        app.router.add_get(PREFIX + "/{bucket}/{key:.+}", self.download)

    # ------------------------------------------------------------ credentials

    def _credential_problem(self, credential: str, token: str | None) -> web.Response | None:
        """The refusal for a credential scope S3 would not accept from these credentials, or None."""
        parts = credential.split("/")
        if len(parts) != 5 or parts[3] != "s3" or parts[4] != "aws4_request":
            return _error(400, "AuthorizationQueryParametersError", f"Invalid credential: {credential}")
        if not hmac.compare_digest(parts[0].encode(), self._credentials.access_key.encode()):
            return _error(
                403, "InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist in our records."
            )
        if parts[2] != self._region:
            return _error(
                400, "AuthorizationHeaderMalformed", f"the region '{parts[2]}' is wrong; expecting '{self._region}'"
            )
        if not hmac.compare_digest((token or "").encode(), (self._credentials.token or "").encode()):
            return _error(400, "InvalidToken", "The provided token is malformed or otherwise invalid.")
        return None

    def _signature(self, date: str, string_to_sign: str) -> str:
        key = _signing_key(self._credentials.secret_key, date, self._region)
        return hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()

    # ------------------------------------------------------------ POST (upload)

    async def upload(self, request: web.Request) -> web.StreamResponse:
        bucket = request.match_info["bucket"]
        if not request.content_type.startswith("multipart/form-data"):
            return _error(412, "PreconditionFailed", "Bucket POST must be of the enclosure-type multipart/form-data")
        fields: dict[str, str] = {}
        reader = await request.multipart()
        body: bytes | None = None
        while (part := await reader.next()) is not None:
            if not isinstance(part, BodyPartReader):
                return _error(400, "MalformedPOSTRequest", "The body of your POST request is not well-formed.")
            name = (part.name or "").lower()
            if name == "file":
                problem = self._check_form(bucket, fields)
                if isinstance(problem, web.Response):
                    return problem
                low, high = problem
                body = await self._read_file(part, high)
                if body is None:
                    return _error(
                        400,
                        "EntityTooLarge",
                        "Your proposed upload exceeds the maximum allowed size",
                        MaxSizeAllowed=str(high),
                    )
                if len(body) < low:
                    return _error(
                        400,
                        "EntityTooSmall",
                        "Your proposed upload is smaller than the minimum allowed size",
                        MinSizeAllowed=str(low),
                        ProposedSize=str(len(body)),
                    )
                break  # S3 ignores everything after the file
            fields[name] = await part.text()
        if body is None:
            return _error(400, "InvalidArgument", "POST requires exactly one file upload per request.")
        key = fields["key"]
        await asyncio.get_running_loop().run_in_executor(None, self._store, bucket, key, body, fields)
        log.info("s3 upload   %s/%s (%d bytes)", bucket, key, len(body))
        status = fields.get("success_action_status", "204")
        return web.Response(status=int(status) if status in ("200", "201") else 204)

    def _check_form(self, bucket: str, fields: Mapping[str, str]) -> web.Response | tuple[int, int]:
        """The policy's checks of the fields before the file: the refusal, or the allowed size range."""
        for required in ("policy", "x-amz-algorithm", "x-amz-credential", "x-amz-date", "x-amz-signature"):
            if required not in fields:
                return _error(403, "AccessDenied", f"Bucket POST must contain a field named '{required}'.")
        if "key" not in fields:
            return _error(400, "InvalidArgument", "Bucket POST must contain a field named 'key'.")
        if fields["x-amz-algorithm"] != _ALGORITHM:
            return _error(400, "InvalidArgument", "Only AWS4-HMAC-SHA256 is supported.")
        problem = self._credential_problem(fields["x-amz-credential"], fields.get("x-amz-security-token"))
        if problem is not None:
            return problem
        date = fields["x-amz-credential"].split("/")[1]
        expected = self._signature(date, fields["policy"])
        if not hmac.compare_digest(expected.encode(), fields["x-amz-signature"].encode()):
            return _error(
                403,
                "SignatureDoesNotMatch",
                "The request signature we calculated does not match the signature you provided.",
            )
        try:
            policy = json.loads(base64.b64decode(fields["policy"], validate=True))
            expiration = datetime.fromisoformat(policy["expiration"].replace("Z", "+00:00"))
            conditions = policy["conditions"]
        except (binascii.Error, ValueError, KeyError, TypeError):
            return _error(400, "InvalidPolicyDocument", "Invalid Policy: Invalid JSON.")
        if expiration <= self._clock():
            return _policy_denied("Policy expired.")
        values = {**fields, "bucket": bucket}
        covered: set[str] = set()
        size_range = (0, 5 * 1024**3)
        for condition in conditions:
            if isinstance(condition, dict) and len(condition) == 1:
                ((name, wanted),) = condition.items()
                operator, field = "eq", name.lower()
            elif isinstance(condition, list) and len(condition) == 3 and condition[0] == "content-length-range":
                size_range = (int(condition[1]), int(condition[2]))
                continue
            elif isinstance(condition, list) and len(condition) == 3 and str(condition[1]).startswith("$"):
                operator, field, wanted = str(condition[0]).lower(), str(condition[1])[1:].lower(), condition[2]
            else:
                return _error(400, "InvalidPolicyDocument", f"Invalid Policy: Invalid Condition: {condition}")
            covered.add(field)
            actual = values.get(field)
            if actual is None:
                return _policy_denied(f'Policy Condition failed: ["{operator}", "${field}", "{wanted}"]')
            ok = actual == wanted if operator == "eq" else actual.startswith(str(wanted))
            if not ok:
                return _policy_denied(f'Policy Condition failed: ["{operator}", "${field}", "{wanted}"]')
        # Every field must be named by a condition (boto3's policies name its own x-amz-* fields too).
        extra = sorted(f for f in fields if f not in covered and f not in _UNCOVERED and not f.startswith("x-ignore-"))
        if extra:
            return _policy_denied(f"Extra input fields: {', '.join(extra)}")
        return size_range

    @staticmethod
    async def _read_file(part: Any, limit: int) -> bytes | None:
        """The file's bytes, or None as soon as there are more than ``limit``."""
        chunks: list[bytes] = []
        size = 0
        while chunk := await part.read_chunk(_CHUNK):
            size += len(chunk)
            if size > limit:
                return None
            chunks.append(chunk)
        return b"".join(chunks)

    def _store(self, bucket: str, key: str, body: bytes, fields: Mapping[str, str]) -> None:
        extra: dict[str, Any] = {}
        if "content-type" in fields:
            extra["ContentType"] = fields["content-type"]
        if "tagging" in fields:
            root = ElementTree.fromstring(fields["tagging"])  # noqa: S314 - a policy-checked field of our own
            tags = [(t.findtext("Key") or "", t.findtext("Value") or "") for t in root.iter("Tag")]
            extra["Tagging"] = urlencode(tags)
        self._client.put_object(Bucket=bucket, Key=key, Body=body, **extra)

    # ------------------------------------------------------------ GET (download)

    async def download(self, request: web.Request) -> web.StreamResponse:
        bucket, key = request.match_info["bucket"], request.match_info["key"]
        query = parse_qsl(request.query_string, keep_blank_values=True)
        params = dict(query)
        needed = ("X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date", "X-Amz-Expires", "X-Amz-SignedHeaders")
        if "X-Amz-Signature" not in params or any(n not in params for n in needed):
            return _error(403, "AccessDenied", "Access Denied")
        problem = self._credential_problem(params["X-Amz-Credential"], params.get("X-Amz-Security-Token"))
        if problem is not None:
            return problem
        try:
            signed_at = datetime.strptime(params["X-Amz-Date"], _STAMP).replace(tzinfo=UTC)
            expires = int(params["X-Amz-Expires"])
        except ValueError:
            return _error(400, "AuthorizationQueryParametersError", "X-Amz-Date or X-Amz-Expires is malformed")
        if not 0 < expires <= _MAX_EXPIRES:
            return _error(400, "AuthorizationQueryParametersError", "X-Amz-Expires must be 1 to 604800 seconds")
        signed_names = params["X-Amz-SignedHeaders"].lower().split(";")
        canonical_query = "&".join(
            f"{_uri_encode(k)}={_uri_encode(v)}" for k, v in sorted(query) if k != "X-Amz-Signature"
        )
        headers = "".join(f"{name}:{(request.headers.get(name) or '').strip()}\n" for name in signed_names)
        canonical = "\n".join(
            [
                "GET",
                request.raw_path.split("?", 1)[0],
                canonical_query,
                headers,
                ";".join(signed_names),
                "UNSIGNED-PAYLOAD",
            ]
        )
        scope = "/".join(params["X-Amz-Credential"].split("/")[1:])
        string_to_sign = "\n".join(
            [_ALGORITHM, params["X-Amz-Date"], scope, hashlib.sha256(canonical.encode()).hexdigest()]
        )
        expected = self._signature(params["X-Amz-Credential"].split("/")[1], string_to_sign)
        if not hmac.compare_digest(expected.encode(), params["X-Amz-Signature"].encode()):
            return _error(
                403,
                "SignatureDoesNotMatch",
                "The request signature we calculated does not match the signature you provided.",
                CanonicalRequest=canonical,
            )
        if self._clock() > signed_at + timedelta(seconds=expires):
            return _error(
                403, "AccessDenied", "Request has expired", Expires=_iso(signed_at + timedelta(seconds=expires))
            )
        object_key = key  # aiohttp decoded the path; the signature was over the path as sent
        try:
            got = await asyncio.get_running_loop().run_in_executor(
                None, lambda: self._client.get_object(Bucket=bucket, Key=object_key)
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                return _error(404, "NoSuchKey", "The specified key does not exist.", Key=object_key)
            raise
        data = await asyncio.get_running_loop().run_in_executor(None, got["Body"].read)
        response_headers = {
            "Content-Type": params.get("response-content-type") or got.get("ContentType", "binary/octet-stream"),
            "Cache-Control": "private, max-age=300",
            "X-Content-Type-Options": "nosniff",
        }
        if "response-content-disposition" in params:
            response_headers["Content-Disposition"] = params["response-content-disposition"]
        log.info("s3 download %s/%s (%d bytes)", bucket, object_key, len(data))
        return web.Response(body=data, headers=response_headers)


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
