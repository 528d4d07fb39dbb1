"""The common layer, built on this machine for the Lambda platform: inspected as files, never imported."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from infra.chat_infra.layer import (
    LAYER_PYTHON_VERSION,
    RUNTIME_PROVIDED,
    LayerBuildError,
    build_layer,
    install_command,
)
from infra.chat_infra.paths import LAYER_SOURCE_DIR, MIGRATIONS_DIR, REPO_ROOT
from tests.infra.synthesis import Synth, layer_asset_dir

CP = "cp" + LAYER_PYTHON_VERSION.replace(".", "")
ELF_MAGIC = b"\x7fELF"
EM_X86_64 = 62


def _wheel_tags(site: Path, distribution: str) -> list[str]:
    (info,) = site.glob(f"{distribution}-*.dist-info")
    return [
        line.split(":", 1)[1].strip() for line in (info / "WHEEL").read_text().splitlines() if line.startswith("Tag:")
    ]


def _is_x86_64_elf(path: Path) -> bool:
    header = path.read_bytes()[:20]
    # e_ident: magic, 64-bit class (2), little endian (1); e_machine at offset 18.
    return (
        header[:4] == ELF_MAGIC
        and header[4] == 2
        and header[5] == 1
        and int.from_bytes(header[18:20], "little") == EM_X86_64
    )


def test_built_layer_carries_psycopgs_binary_implementation_for_lambda(built_layer: Path) -> None:
    """psycopg_binary's compiled modules in the layer are cp312 x86-64 ELF files from a manylinux wheel."""
    site = built_layer / "python"
    assert (site / "psycopg" / "__init__.py").is_file()
    extension = site / "psycopg_binary" / f"_psycopg.{CP.replace('cp', 'cpython-')}-x86_64-linux-gnu.so"
    assert extension.is_file(), sorted(p.name for p in (site / "psycopg_binary").iterdir())
    assert _is_x86_64_elf(extension)
    assert (site / "psycopg_binary" / f"pq.{CP.replace('cp', 'cpython-')}-x86_64-linux-gnu.so").is_file()
    tags = _wheel_tags(site, "psycopg_binary")
    assert tags and all(re.fullmatch(rf"{CP}-{CP}-manylinux.*x86_64", tag) for tag in tags), tags
    # psycopg picks its implementation by importing psycopg_binary: the versions must be the same.
    (psycopg_info,) = site.glob("psycopg-*.dist-info")
    (binary_info,) = site.glob("psycopg_binary-*.dist-info")
    assert psycopg_info.name.split("-")[1] == binary_info.name.split("-")[1]
    # The bundled libpq and OpenSSL travel with it.
    assert any((site / "psycopg_binary.libs").glob("libpq*.so*"))


def test_built_layer_carries_pydantic_core_for_lambda(built_layer: Path) -> None:
    """pydantic_core's extension in the layer is a cp312 manylinux x86-64 build."""
    site = built_layer / "python"
    extension = site / "pydantic_core" / f"_pydantic_core.{CP.replace('cp', 'cpython-')}-x86_64-linux-gnu.so"
    assert extension.is_file()
    assert _is_x86_64_elf(extension)
    tags = _wheel_tags(site, "pydantic_core")
    assert tags and all(re.fullmatch(rf"{CP}-{CP}-manylinux.*x86_64", tag) for tag in tags), tags


def test_built_layer_has_chatcore_and_no_runtime_provided_packages(built_layer: Path) -> None:
    """The layer holds chatcore with its migrations and Powertools, but no boto3/botocore and no bytecode."""
    site = built_layer / "python"
    assert (site / "chatcore" / "__init__.py").is_file()
    shipped = {p.name for p in (site / "chatcore" / "postgres" / "migrations").glob("*.sql")}
    assert shipped == {p.name for p in MIGRATIONS_DIR.glob("*.sql")} and shipped
    assert (site / "aws_lambda_powertools").is_dir()
    assert (site / "jwt").is_dir()
    installed = {info.name.rsplit("-", 1)[0].lower().replace("_", "-") for info in site.glob("*.dist-info")}
    assert not installed & RUNTIME_PROVIDED, installed & RUNTIME_PROVIDED
    assert not (site / "botocore").exists() and not (site / "boto3").exists()
    assert not list(built_layer.rglob("__pycache__"))


def test_synthesized_layer_asset_is_the_same_build(synth: Synth) -> None:
    """The stack's layer asset was bundled locally into python/ with chatcore and psycopg's binary package."""
    site = layer_asset_dir(synth) / "python"
    assert (site / "chatcore" / "composition.py").is_file()
    assert any((site / "psycopg_binary").glob(f"_psycopg.cpython-{CP[2:]}-x86_64-linux-gnu.so"))


def test_layer_build_refuses_a_non_empty_folder(tmp_path: Path) -> None:
    """build_layer never mixes a new build into an existing folder."""
    (tmp_path / "stale.txt").write_text("old")
    with pytest.raises(LayerBuildError, match="not empty"):
        build_layer(tmp_path)


def test_install_commands_target_the_lambda_platform(tmp_path: Path) -> None:
    """Both installers ask for binary-only wheels of the Lambda platform and Python, into the target."""
    requirements, target = tmp_path / "requirements.txt", tmp_path / "python"
    uv = install_command(requirements, target, python_version="3.12", platform="x86_64-manylinux2014", installer="uv")
    assert uv[1:3] == ["pip", "install"]
    assert "--python-platform" in uv and "x86_64-manylinux2014" in uv and "--only-binary" in uv and ":all:" in uv
    assert uv[uv.index("--target") + 1] == str(target)
    pip = install_command(requirements, target, python_version="3.12", platform="x86_64-manylinux2014", installer="pip")
    assert "manylinux2014_x86_64" in pip and "--only-binary=:all:" in pip and "3.12" in pip
    with pytest.raises(LayerBuildError):
        install_command(requirements, target, python_version="3.12", platform="x86_64-manylinux2014", installer="conda")


def test_layer_requirements_pin_the_locked_versions() -> None:
    """layers/common/requirements.txt pins the versions uv.lock resolves, so Lambda runs what the tests ran."""
    lock = tomllib.loads((REPO_ROOT / "uv.lock").read_text())
    locked = {package["name"]: package["version"] for package in lock["package"]}
    pins = {}
    for line in (LAYER_SOURCE_DIR / "requirements.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            match = re.fullmatch(r"([A-Za-z0-9_.-]+)(?:\[[^\]]+\])?==([^\s;]+)", line)
            assert match, f"not an exact pin: {line!r}"
            pins[match[1].lower()] = match[2]
    assert {"aws-lambda-powertools", "pydantic", "psycopg", "pyjwt"} <= set(pins)
    assert "boto3" not in pins
    for name, version in pins.items():
        assert locked.get(name) == version, f"{name}: requirements.txt {version}, uv.lock {locked.get(name)}"
