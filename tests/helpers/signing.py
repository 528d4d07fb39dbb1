"""SigV4-signed requests for the local Management API, signed by botocore at a chosen moment."""

from __future__ import annotations

import urllib.error
import urllib.request
from datetime import datetime
from typing import Any
from unittest import mock
from urllib.parse import urlsplit

import botocore.auth
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from chat_local.sigv4 import REGION, SERVICE


def signed_headers(
    method: str, url: str, body: bytes, credentials: Credentials, *, at: datetime | None = None, region: str = REGION
) -> dict[str, str]:
    """The headers of a request botocore's SigV4Auth signed for ``execute-api`` (as of ``at``, a naive UTC time;
    now by default): ``Host``, ``X-Amz-Date``, ``Authorization`` (and ``X-Amz-Security-Token``)."""
    request = AWSRequest(method=method, url=url, data=body)
    auth = SigV4Auth(credentials, SERVICE, region)
    if at is None:
        auth.add_auth(request)
    else:
        with mock.patch.object(botocore.auth, "get_current_datetime", return_value=at):
            auth.add_auth(request)
    # The Host header is signed from the URL; an HTTP client sends the same one.
    return {"Host": urlsplit(url).netloc, **dict(request.headers.items())}


def send(method: str, url: str, body: bytes = b"", headers: dict[str, str] | None = None) -> tuple[int, Any, bytes]:
    """One plain urllib request: (status, response headers, body), error statuses included."""
    request = urllib.request.Request(url, data=body if method == "POST" else None, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()
