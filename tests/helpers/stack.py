"""Running ``chat-local`` as a child process, the way a user does, and waiting for its ready line."""

from __future__ import annotations

import re
import secrets
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from botocore.credentials import Credentials
from chat_local.processes import ReadyProcess
from chat_local.sigv4 import REGION, stack_credentials
from chatcore.aws.registry import ConnectionRegistry

if TYPE_CHECKING:
    from mypy_boto3_apigatewaymanagementapi import ApiGatewayManagementApiClient

CHAT_LOCAL = Path(sys.executable).parent / "chat-local"


class StackProcess(ReadyProcess):
    """``chat-local`` on a free port (unless ``args`` name one) over ``data_dir``.

    It runs with credentials of its own (a fresh secret in ``AWS_SECRET_ACCESS_KEY``, unless ``env`` names
    them), which its Management API requires signatures by; ``management()`` is a boto3 client that signs
    with them. ``test_endpoints`` passes ``--test-endpoints`` (``/_local/*``).
    """

    def __init__(
        self,
        data_dir: Path,
        *args: str,
        env: dict[str, str] | None = None,
        log_path: Path,
        test_endpoints: bool = True,
    ) -> None:
        # --port 0 picks a free port unless the test asked for one (a later --port wins).
        flags = ["--test-endpoints"] if test_endpoints else []
        credentials = {
            "AWS_ACCESS_KEY_ID": "chat-tests",
            "AWS_SECRET_ACCESS_KEY": secrets.token_urlsafe(24),
            "AWS_SESSION_TOKEN": "",
        }
        super().__init__(
            [str(CHAT_LOCAL), "--port", "0", "--data-dir", str(data_dir), *flags, *args],
            env={**credentials, **(env or {})},
            log_path=log_path,
        )
        self.data_dir = data_dir

    @property
    def ws_url(self) -> str:
        return self.url.replace("http://", "ws://") + "/ws"

    @property
    def api_url(self) -> str:
        return self.url + "/api"

    @property
    def credentials(self) -> Credentials:
        """The credentials the stack runs with, resolved from its environment as ``chat-local`` resolves them."""
        return stack_credentials(self.env)

    def management(self, credentials: Credentials | None = None, **config: Any) -> ApiGatewayManagementApiClient:
        """boto3's Management API client for this stack, signing with its credentials (or ``credentials``)."""
        import boto3
        from botocore.config import Config

        signer = credentials or self.credentials
        return boto3.client(
            "apigatewaymanagementapi",
            endpoint_url=self.url,
            region_name=REGION,
            aws_access_key_id=signer.access_key,
            aws_secret_access_key=signer.secret_key,
            aws_session_token=signer.token or None,
            config=Config(retries={"mode": "standard", "max_attempts": 1}, **config),
        )

    def start(self, timeout: float = 90.0) -> StackProcess:
        return super().start(timeout)

    @property
    def moto_endpoint(self) -> str:
        """The stack's moto server (DynamoDB, S3, SQS), as its log names it."""
        found = re.search(r"ready at (http://[\w.:]+)", self.log_path.read_text(errors="replace"))
        assert found, "the stack's log names no moto endpoint"
        return found.group(1)

    def aws_client(self, service: str) -> Any:
        """A boto3 client of ``service`` on the stack's moto server, signed with the stack's credentials."""
        import boto3

        signer = self.credentials
        return boto3.client(  # type: ignore[call-overload]
            service,
            endpoint_url=self.moto_endpoint,
            region_name=REGION,
            aws_access_key_id=signer.access_key,
            aws_secret_access_key=signer.secret_key,
        )

    def registry(self) -> ConnectionRegistry:
        """The stack's connection registry, on the moto server its log names, for tests that change stored state."""
        client = self.aws_client("dynamodb")
        # The table is named as the template names it (chat-local creates the template's tables): the chat's one.
        (table,) = client.list_tables()["TableNames"]
        return ConnectionRegistry(client, table)


def wait_until(predicate, timeout: float = 10.0, interval: float = 0.05) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return bool(predicate())
