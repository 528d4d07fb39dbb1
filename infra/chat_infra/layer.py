"""The common Lambda layer, built on this machine (no Docker).

``build_layer`` lays out ``<out>/python/``: the third-party wheels of ``layers/common/requirements.txt``
installed for the Lambda platform (manylinux, CPython of the function runtime, binary wheels only, so
``psycopg[binary]`` and ``pydantic-core`` carry their compiled extensions for Lambda whatever machine
builds them), then the ``chatcore`` package copied from ``layers/common/python/``.

Distributions the Lambda Python runtime already ships (boto3 and its dependencies) are removed after the
install: ``aws-xray-sdk`` pulls in ``botocore``, and a second, different ``botocore`` in ``/opt/python``
would shadow the one the runtime's ``boto3`` was released with.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsii
from aws_cdk import AssetHashType, BundlingOptions, DockerImage, ILocalBundling
from aws_cdk import aws_lambda as lambda_

from infra.chat_infra.paths import LAYER_SOURCE_DIR

#: The function runtime's Python; the layer's compiled wheels must match it.
LAYER_PYTHON_VERSION = "3.12"
#: uv's name for the Lambda x86_64 platform (glibc 2.17+, which Amazon Linux 2023 satisfies).
LAYER_PLATFORM = "x86_64-manylinux2014"
#: Provided by every Lambda Python runtime (boto3 and its dependency closure); never shipped in the layer.
RUNTIME_PROVIDED = frozenset({"boto3", "botocore", "s3transfer", "jmespath", "urllib3", "python-dateutil", "six"})
#: The importable package the layer exists for.
LAYER_PACKAGE = "chatcore"

_PIP_PLATFORMS = {"x86_64-manylinux2014": "manylinux2014_x86_64", "aarch64-manylinux2014": "manylinux2014_aarch64"}


class LayerBuildError(RuntimeError):
    """The layer's dependencies could not be installed."""


@dataclass(frozen=True)
class LayerBuild:
    """What ``build_layer`` produced."""

    root: Path
    """The asset folder (zip root); its ``python/`` is what Lambda puts on ``sys.path``."""
    installer: str
    removed: tuple[str, ...]
    """Runtime-provided distributions taken out after the install."""


def _normalize(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


def install_command(
    requirements: Path, target: Path, *, python_version: str, platform: str, installer: str
) -> list[str]:
    """The command that installs ``requirements`` for the Lambda platform into ``target``."""
    if installer == "uv":
        uv = shutil.which("uv") or "uv"
        return [
            uv,
            "pip",
            "install",
            "--quiet",
            "--python-platform",
            platform,
            "--python-version",
            python_version,
            "--only-binary",
            ":all:",
            "--no-config",
            "--target",
            str(target),
            "--requirement",
            str(requirements),
        ]
    if installer == "pip":
        return [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--no-compile",
            "--platform",
            _PIP_PLATFORMS[platform],
            "--python-version",
            python_version,
            "--implementation",
            "cp",
            "--only-binary=:all:",
            "--target",
            str(target),
            "--requirement",
            str(requirements),
        ]
    raise LayerBuildError(f"unknown installer {installer!r} (use 'uv' or 'pip')")


def _default_installer() -> str:
    if shutil.which("uv"):
        return "uv"
    probe = subprocess.run([sys.executable, "-m", "pip", "--version"], capture_output=True, check=False)
    if probe.returncode == 0:
        return "pip"
    raise LayerBuildError("building the layer needs uv (https://docs.astral.sh/uv/) or pip on this machine")


def _remove_distributions(site: Path, names: frozenset[str]) -> tuple[str, ...]:
    """Delete every file of the installed distributions called ``names`` (by their RECORD)."""
    removed: list[str] = []
    for info in sorted(site.glob("*.dist-info")):
        dist_name = info.name.removesuffix(".dist-info").rsplit("-", 1)[0]
        if _normalize(dist_name) not in names:
            continue
        record = info / "RECORD"
        if record.exists():
            for line in record.read_text(encoding="utf-8").splitlines():
                relative = line.split(",", 1)[0]
                if not relative:
                    continue
                path = (site / relative).resolve()
                if path.is_relative_to(site.resolve()) and path.is_file():
                    path.unlink()
        shutil.rmtree(info, ignore_errors=True)
        removed.append(_normalize(dist_name))
    # Drop the package folders the deletions emptied.
    for folder in sorted((p for p in site.rglob("*") if p.is_dir()), key=lambda p: len(p.parts), reverse=True):
        if not any(folder.iterdir()):
            folder.rmdir()
    return tuple(removed)


def build_layer(
    output_dir: Path | str,
    *,
    source_dir: Path = LAYER_SOURCE_DIR,
    python_version: str = LAYER_PYTHON_VERSION,
    platform: str = LAYER_PLATFORM,
    installer: str | None = None,
    runtime_provided: frozenset[str] = RUNTIME_PROVIDED,
) -> LayerBuild:
    """Build the layer into ``output_dir`` (created if missing, must be empty) and describe the result.

    ``source_dir`` holds ``requirements.txt`` and ``python/chatcore``. Raises :class:`LayerBuildError`
    when the install fails (its output is in the message).
    """
    root = Path(output_dir)
    root.mkdir(parents=True, exist_ok=True)
    if any(root.iterdir()):
        raise LayerBuildError(f"layer output folder {root} is not empty")
    site = root / "python"
    site.mkdir()
    requirements = source_dir / "requirements.txt"
    if not requirements.is_file():
        raise LayerBuildError(f"{requirements} is missing")
    chosen = installer or _default_installer()
    command = install_command(requirements, site, python_version=python_version, platform=platform, installer=chosen)
    env = {**os.environ, "PIP_NO_INPUT": "1"}
    # The CDK CLI runs the app inside `uv run`; the target install must not touch that environment.
    env.pop("VIRTUAL_ENV", None)
    result = subprocess.run(command, capture_output=True, text=True, env=env, check=False)  # noqa: S603
    if result.returncode != 0:
        raise LayerBuildError(
            f"installing the layer requirements failed ({' '.join(command)}):\n{result.stdout}\n{result.stderr}"
        )
    removed = _remove_distributions(site, runtime_provided)
    shutil.rmtree(site / "bin", ignore_errors=True)  # console scripts: nothing in a layer runs them
    (site / ".lock").unlink(missing_ok=True)  # uv's install lock file
    shutil.copytree(
        source_dir / "python" / LAYER_PACKAGE,
        site / LAYER_PACKAGE,
        ignore=shutil.ignore_patterns("__pycache__", "*.pyc", ".mypy_cache"),
    )
    return LayerBuild(root=root, installer=chosen, removed=removed)


@jsii.implements(ILocalBundling)
class LocalLayerBundling:
    """CDK local bundling: runs :func:`build_layer` in the asset output folder instead of a container."""

    def __init__(self, source_dir: Path = LAYER_SOURCE_DIR) -> None:
        self._source_dir = source_dir

    def try_bundle(self, output_dir: str, *args: Any, **kwargs: Any) -> bool:
        build_layer(Path(output_dir), source_dir=self._source_dir)
        return True


def layer_code(source_dir: Path = LAYER_SOURCE_DIR, *, exclude: Sequence[str] = ()) -> lambda_.Code:
    """The layer's asset: bundled locally, hashed by its output so a new dependency version is a new layer."""
    return lambda_.Code.from_asset(
        str(source_dir),
        asset_hash_type=AssetHashType.OUTPUT,
        exclude=["**/__pycache__", "**/*.pyc", *exclude],
        bundling=BundlingOptions(
            # Never pulled: the local bundler always succeeds or fails with the installer's message.
            image=DockerImage.from_registry(f"public.ecr.aws/sam/build-python{LAYER_PYTHON_VERSION}"),
            local=LocalLayerBundling(source_dir),
        ),
    )
