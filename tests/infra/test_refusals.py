"""Settings the stack refuses while it is built, before anything is synthesized or deployed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from aws_cdk import aws_lambda as lambda_

from infra.chat_infra.app_factory import build_app
from infra.chat_infra.config import ConfigError
from infra.chat_infra.web import REGIONS_WITH_CLOUDFRONT_LOGGING, cloudfront_can_log_to
from tests.infra.synthesis import TEST_CONTEXT, Synth, cdk_json_context, layer_asset_dir


@pytest.fixture
def build(synth: Synth, rds_bundle: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Builds (does not synthesize) the app with extra context, reusing the session's layer build."""
    monkeypatch.delenv("CDK_DEFAULT_REGION", raising=False)
    layer = layer_asset_dir(synth)

    def make(**context: Any) -> None:
        build_app(
            {**cdk_json_context(), **TEST_CONTEXT, "rdsCaBundle": str(rds_bundle), "nag": "false", **context},
            layer_code=lambda_.Code.from_asset(str(layer)),
        )

    return make


@pytest.mark.parametrize("region", ["af-south-1", "eu-south-2", "me-central-1", "ap-southeast-7", "mx-central-1"])
def test_an_opt_in_region_is_refused_while_cloudfront_logs(
    build: Any, monkeypatch: pytest.MonkeyPatch, region: str
) -> None:
    """CloudFront cannot deliver standard logs to a bucket in an opt-in region: the synth stops, naming the way
    out, and builds once cloudFrontLogging=false takes it."""
    monkeypatch.setenv("CDK_DEFAULT_REGION", region)
    with pytest.raises(ConfigError, match="cloudFrontLogging=false"):
        build()
    build(cloudFrontLogging="false")


def test_a_default_region_builds_with_cloudfront_logging(build: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """A region every account has (eu-west-1) builds with logging on: only the aws partition's opt-in regions are
    refused, the other partitions' are not judged."""
    monkeypatch.setenv("CDK_DEFAULT_REGION", "eu-west-1")
    build()
    assert "eu-west-1" in REGIONS_WITH_CLOUDFRONT_LOGGING and "af-south-1" not in REGIONS_WITH_CLOUDFRONT_LOGGING
    assert cloudfront_can_log_to("cn-northwest-1") and cloudfront_can_log_to("us-gov-west-1")
    assert not cloudfront_can_log_to("il-central-1")


@pytest.mark.parametrize("seconds", ["10", "30"])
def test_a_borrow_timeout_not_under_the_functions_timeouts_is_refused(build: Any, seconds: str) -> None:
    """The proxy's borrow timeout must end before the shortest proxy user's timeout ($connect: 10 s)."""
    with pytest.raises(ConfigError, match="proxyBorrowTimeoutSeconds"):
        build(proxyBorrowTimeoutSeconds=seconds)
