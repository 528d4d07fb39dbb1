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

from infra.chat_infra.layer import LAYER_PYTHON_VERSION, LayerBuild, build_layer, runtime_python
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
def synth(tmp_path_factory: pytest.TempPathFactory, rds_bundle: Path, runtime_interpreter: str | None) -> Synth:
    """The app as the CLI would synthesize it (cdk.json context, cdk-nag on, the layer really bundled, with the
    runtime's Python named by LAYER_PYTHON when this machine has one)."""
    with pytest.MonkeyPatch.context() as patch:
        if runtime_interpreter is not None:
            patch.setenv("LAYER_PYTHON", runtime_interpreter)
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
def runtime_interpreter() -> str | None:
    """An interpreter of the functions' Python here: the one the build finds, else a pyenv one (these machines
    keep several there, which uv does not look through)."""
    found = runtime_python()
    if found is not None:
        return found
    pyenv = sorted(Path.home().glob(f".pyenv/versions/{LAYER_PYTHON_VERSION}.*/bin/python{LAYER_PYTHON_VERSION}"))
    return str(pyenv[-1]) if pyenv else None


@pytest.fixture(scope="session")
def layer_build(
    tmp_path_factory: pytest.TempPathFactory, rds_bundle: Path, runtime_interpreter: str | None
) -> LayerBuild:
    """A layer really built by ``build_layer`` (uv, Lambda platform wheels, bytecode of the runtime's Python when
    this machine has one), not taken from a cache."""
    return build_layer(
        tmp_path_factory.mktemp("layer") / "out", rds_ca_bundle=rds_bundle, bytecode_python=runtime_interpreter
    )


@pytest.fixture(scope="session")
def built_layer(layer_build: LayerBuild) -> Iterator[Path]:
    """The folder of that build."""
    yield layer_build.root
