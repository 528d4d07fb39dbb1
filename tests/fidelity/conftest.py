"""The probe app served by ``chat-local`` (its own template, no PostgreSQL), and a copy with short limits."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.config import Config
from chat_local.sigv4 import REGION

from tests.fidelity.probe import Probe
from tests.helpers.stack import StackProcess

PROBE_APP = Path(__file__).resolve().parent / "probe_app"
PROBE_STAGE = "probe"


@pytest.fixture(scope="session")
def probe_stack(tmp_root: Path) -> Iterator[StackProcess]:
    """``chat-local --app tests/fidelity/probe_app``: AWS's limits as they are."""
    process = StackProcess(
        tmp_root / "probe-data", "--app", str(PROBE_APP), log_path=tmp_root / "probe-stack.log"
    ).start()
    yield process
    process.stop()


@pytest.fixture(scope="session")
def short_probe_stack(tmp_root: Path) -> Iterator[StackProcess]:
    """The probe app with the limits shortened: 2 s idle, 6 s maximum duration, containers recycled after 2 s idle."""
    process = StackProcess(
        tmp_root / "short-probe-data",
        "--app",
        str(PROBE_APP),
        "--idle-timeout",
        "2",
        "--max-connection-duration",
        "6",
        "--container-idle-timeout",
        "2",
        log_path=tmp_root / "short-probe-stack.log",
    ).start()
    yield process
    process.stop()


@pytest.fixture
def probes(probe_stack: StackProcess) -> Iterator[list[Probe]]:
    """Connections the test opens (``probes.append``), closed after it."""
    opened: list[Probe] = []
    yield opened
    for probe in opened:
        if not probe.closed:
            probe.close()


@pytest.fixture
def probe(probe_stack: StackProcess, probes: list[Probe]) -> Probe:
    """One open connection to the probe app."""
    client = Probe(probe_stack)
    probes.append(client)
    return client


def management(stack: StackProcess, stage: str | None = PROBE_STAGE, **config: Any) -> Any:
    """boto3's Management API client for ``stack`` at ``/{stage}`` (as AWS publishes the endpoint), signed."""
    import boto3

    credentials = stack.credentials
    return boto3.client(
        "apigatewaymanagementapi",
        endpoint_url=f"{stack.url}/{stage}" if stage else stack.url,
        region_name=REGION,
        aws_access_key_id=credentials.access_key,
        aws_secret_access_key=credentials.secret_key,
        aws_session_token=credentials.token or None,
        config=Config(retries={"mode": "standard", "max_attempts": 1}, **config),
    )
