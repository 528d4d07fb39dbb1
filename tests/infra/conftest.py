"""Synthesizes the CDK app once per session (plus one variant) and shares the results with the tests.

Synthesis is the slow part (jsii starts Node, CDK runs cdk-nag and the CloudFormation validation plugin,
the layer is bundled), so every test reads the same cloud assemblies.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import aws_lambda as lambda_

from infra.chat_infra.layer import LayerBuild, build_layer
from tests.infra.certificates import fake_rds_bundle
from tests.infra.synthesis import (
    TEST_CONTEXT,
    VARIANT_CONTEXT,
    Acknowledged,
    Synth,
    layer_asset_dir,
    nag_plugin_report,
    recorded_acknowledgments,
    synthesize,
)


@pytest.fixture(scope="session")
def rds_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A stand-in for RDS's global-bundle.pem (which the deployer downloads; nothing here can)."""
    return fake_rds_bundle(tmp_path_factory.mktemp("rds-ca") / "global-bundle.pem")


@pytest.fixture(scope="session")
def synth(tmp_path_factory: pytest.TempPathFactory, rds_bundle: Path) -> Synth:
    """The app as the CLI would synthesize it (cdk.json context, cdk-nag on, the layer really bundled)."""
    return synthesize({**TEST_CONTEXT, "rdsCaBundle": str(rds_bundle)}, tmp_path_factory.mktemp("cdk-out"))


@pytest.fixture(scope="session")
def variant(synth: Synth, tmp_path_factory: pytest.TempPathFactory) -> Synth:
    """The app without NAT gateway and deletion protection, Multi-AZ; reuses the first synth's layer build."""
    prebuilt = lambda_.Code.from_asset(str(layer_asset_dir(synth)))
    return synthesize(VARIANT_CONTEXT, tmp_path_factory.mktemp("cdk-out-variant"), layer_code=prebuilt)


@pytest.fixture(scope="session")
def acknowledgments(synth: Synth) -> list[Acknowledged]:
    """Every cdk-nag acknowledgment recorded in the default app (CDK's own, for its validation, left out)."""
    return recorded_acknowledgments(synth)


@pytest.fixture(scope="session")
def nag_report(synth: Synth) -> dict[str, Any]:
    """The AwsSolutions part of the default app's validation report (findings, and those acknowledged)."""
    return nag_plugin_report(synth)


@pytest.fixture(scope="session")
def layer_build(tmp_path_factory: pytest.TempPathFactory, rds_bundle: Path) -> LayerBuild:
    """A layer really built by ``build_layer`` (uv, Lambda platform wheels), not taken from a cache."""
    return build_layer(tmp_path_factory.mktemp("layer") / "out", rds_ca_bundle=rds_bundle)


@pytest.fixture(scope="session")
def built_layer(layer_build: LayerBuild) -> Iterator[Path]:
    """The folder of that build."""
    yield layer_build.root
