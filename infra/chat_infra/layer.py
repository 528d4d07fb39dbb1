"""The common Lambda layer, built on this machine (no Docker).

``build_layer`` lays out ``<out>/python/``: the third-party wheels installed for the Lambda platform
(manylinux, CPython of the function runtime, binary wheels only, so ``psycopg[binary]`` and ``pydantic-core``
carry their compiled extensions for Lambda whatever machine builds them), then the ``chatcore`` package
copied from ``layers/common/python/``; and ``<out>/certs/`` (``/opt/certs`` in Lambda), the CA bundles the
functions verify PostgreSQL's certificate with.

The wheels are exactly those of ``uv.lock``: ``layers/common/requirements.txt`` names the project
dependencies that belong in the layer, ``uv export --frozen`` turns them into every package of their closure
pinned with its hashes, and the install takes nothing else (``--no-deps --require-hashes``). Distributions the
Lambda Python runtime already ships (boto3 and its dependencies) are left out of the export: ``aws-xray-sdk``
pulls in ``botocore``, and a second, different ``botocore`` in ``/opt/python`` would shadow the one the
runtime's ``boto3`` was released with.
"""

from __future__ import annotations

import datetime
import os
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
import urllib.request
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsii
from aws_cdk import AssetHashType, BundlingOptions, DockerImage, ILocalBundling
from aws_cdk import aws_lambda as lambda_
from cryptography import x509
from cryptography.x509.oid import NameOID

from infra.chat_infra.paths import LAYER_SOURCE_DIR, REPO_ROOT

#: The function runtime's Python; the layer's compiled wheels must match it.
LAYER_PYTHON_VERSION = "3.12"
#: uv's name for the Lambda x86_64 platform (glibc 2.17+, which Amazon Linux 2023 satisfies).
LAYER_PLATFORM = "x86_64-manylinux2014"
#: Provided by every Lambda Python runtime (boto3 and its dependency closure); never shipped in the layer.
RUNTIME_PROVIDED = frozenset({"boto3", "botocore", "s3transfer", "jmespath", "urllib3", "python-dateutil", "six"})
#: The importable package the layer exists for.
LAYER_PACKAGE = "chatcore"

#: Where Lambda unpacks the layer, and the layer's folder of CA bundles.
LAYER_MOUNT = "/opt"
CERTS_DIR = "certs"
#: RDS Proxy presents an ACM certificate (a wildcard for the proxy's domain), which chains to Amazon Trust
#: Services' roots; the bundle holds those four, taken from certifi's copy of Mozilla's list at build time.
#: (Starfield Services G2, which cross-signs Amazon Root CA 1 for old clients, is not needed: OpenSSL ends the
#: chain at the trusted Amazon root.)
PROXY_CA_FILE = "amazon-trust-services-roots.pem"
AMAZON_TRUST_ROOTS = ("Amazon Root CA 1", "Amazon Root CA 2", "Amazon Root CA 3", "Amazon Root CA 4")
#: The RDS instance itself presents a certificate from the RDS CAs (rds-ca-rsa2048-g1 and the others):
#: RDS's global bundle, which no package on PyPI ships; the deployer downloads it (infra/README.md).
INSTANCE_CA_FILE = "rds-global-bundle.pem"
RDS_BUNDLE_URL = "https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem"
DEFAULT_RDS_CA_BUNDLE = REPO_ROOT / "infra" / "certs" / "rds-global-bundle.pem"
#: What the functions set DATABASE_CA_BUNDLE to: the proxy's users and the migration (straight to the instance).
PROXY_CA_BUNDLE = f"{LAYER_MOUNT}/{CERTS_DIR}/{PROXY_CA_FILE}"
INSTANCE_CA_BUNDLE = f"{LAYER_MOUNT}/{CERTS_DIR}/{INSTANCE_CA_FILE}"

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
    bytecode: str | None = None
    """The interpreter (of the runtime's Python) that compiled the layer's ``.pyc`` files, or None: none found."""


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
            # The requirements are the whole locked closure, each with its hashes: install those, nothing else.
            "--no-deps",
            "--require-hashes",
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
            "--no-deps",
            "--require-hashes",
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


def _requirement_name(line: str) -> str:
    match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", line)
    if not match:
        raise LayerBuildError(f"not a requirement: {line!r}")
    return _normalize(match[1])


def layer_dependencies(source_dir: Path = LAYER_SOURCE_DIR) -> list[str]:
    """The project dependencies named in ``<source_dir>/requirements.txt`` (names, extras allowed, no versions)."""
    requirements = source_dir / "requirements.txt"
    if not requirements.is_file():
        raise LayerBuildError(f"{requirements} is missing")
    lines = [line.split("#", 1)[0].strip() for line in requirements.read_text(encoding="utf-8").splitlines()]
    return [line for line in lines if line]


def locked_requirements(
    project_dir: Path = REPO_ROOT,
    *,
    source_dir: Path = LAYER_SOURCE_DIR,
    runtime_provided: frozenset[str] = RUNTIME_PROVIDED,
) -> str:
    """The layer's requirements from ``uv.lock``: every package of its closure, ``==`` pinned, with hashes.

    The project's other dependencies (the local stack's) are pruned with whatever only they need, and the
    runtime-provided distributions are not emitted.
    """
    project = tomllib.loads((project_dir / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    declared = {_requirement_name(spec) for spec in project["dependencies"]}
    wanted = {_requirement_name(spec) for spec in layer_dependencies(source_dir)}
    if not wanted:
        raise LayerBuildError(f"{source_dir / 'requirements.txt'} names no dependency")
    if missing := sorted(wanted - declared):
        raise LayerBuildError(f"layer dependencies {missing} are not dependencies in {project_dir / 'pyproject.toml'}")
    uv = shutil.which("uv")
    if uv is None:
        raise LayerBuildError("building the layer needs uv (https://docs.astral.sh/uv/): it exports uv.lock")
    command = [uv, "export", "--frozen", "--no-dev", "--no-emit-project", "--no-header", "--format", "requirements.txt"]
    command += ["--project", str(project_dir)]
    for name in sorted(declared - wanted):
        command += ["--prune", name]
    for name in sorted(runtime_provided):
        command += ["--no-emit-package", name]
    env = {key: value for key, value in os.environ.items() if key not in ("VIRTUAL_ENV", "UV_PROJECT")}
    result = subprocess.run(command, capture_output=True, text=True, env=env, check=False)  # noqa: S603
    if result.returncode != 0:
        raise LayerBuildError(f"exporting uv.lock failed ({' '.join(command)}):\n{result.stderr}")
    return result.stdout


def _certificates(pem: bytes, source: str, *, strict: bool = True) -> list[x509.Certificate]:
    """The PEM certificates in ``pem``; one that does not parse fails (``strict``) or is passed over."""
    blocks = re.findall(rb"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", pem, flags=re.DOTALL)
    certificates = []
    for block in blocks:
        with warnings.catch_warnings():  # a few roots of Mozilla's list carry a non-positive serial number
            warnings.simplefilter("ignore")
            try:
                certificates.append(x509.load_pem_x509_certificate(block + b"\n"))
            except ValueError as exc:
                if strict:
                    raise LayerBuildError(f"{source} holds a certificate that does not parse: {exc}") from None
    return certificates


def _common_name(certificate: x509.Certificate) -> str:
    names = certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(names[0].value) if names else ""


def _is_ca(certificate: x509.Certificate) -> bool:
    try:
        return bool(certificate.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except x509.ExtensionNotFound:
        return False


def amazon_trust_roots_pem() -> bytes:
    """Amazon Trust Services' root CAs (what RDS Proxy's ACM certificates chain to), from certifi's bundle."""
    import certifi

    source = certifi.where()
    found = {_common_name(cert): cert for cert in _certificates(Path(source).read_bytes(), source) if _is_ca(cert)}
    if missing := [name for name in AMAZON_TRUST_ROOTS if name not in found]:
        raise LayerBuildError(f"certifi's bundle ({source}) lacks {missing}")
    from cryptography.hazmat.primitives.serialization import Encoding

    return b"".join(f"# {name}\n".encode() + found[name].public_bytes(Encoding.PEM) for name in AMAZON_TRUST_ROOTS)


def fetch_rds_bundle(path: Path, url: str = RDS_BUNDLE_URL, timeout: float = 20.0) -> Path:
    """``path``, downloading RDS's bundle there first when it is missing (a deploy is online anyway).

    A download that fails leaves nothing behind; :func:`check_rds_bundle` then names the manual command.
    """
    if path.is_file():
        return path
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - a fixed https URL
            pem = response.read()
    except (OSError, ValueError):
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".part")
    partial.write_bytes(pem)
    partial.replace(path)
    return path


def check_rds_bundle(path: Path) -> bytes:
    """The RDS CA bundle at ``path``, refused unless it is PEM CA certificates with a current Amazon RDS root."""
    how = f"download it: curl -fsSL --create-dirs -o {path} {RDS_BUNDLE_URL}"
    if not path.is_file():
        raise LayerBuildError(
            f"the RDS CA bundle {path} is missing; the migration verifies the database's certificate with it: {how}"
        )
    pem = path.read_bytes()
    certificates = _certificates(pem, str(path))
    now = datetime.datetime.now(datetime.UTC)
    current_rds_roots = [
        cert
        for cert in certificates
        if _common_name(cert).startswith("Amazon RDS") and cert.not_valid_before_utc <= now < cert.not_valid_after_utc
    ]
    if not certificates or not all(_is_ca(cert) for cert in certificates) or not current_rds_roots:
        raise LayerBuildError(
            f"{path} is not RDS's CA bundle (CA certificates, an Amazon RDS root among them valid today): {how}"
        )
    return pem


def runtime_python(version: str = LAYER_PYTHON_VERSION) -> str | None:
    """An interpreter of the functions' Python ``version`` on this machine, to compile the layer's bytecode.

    ``$LAYER_PYTHON`` if set (refused unless it is that version), else the one uv finds or, where uv may
    download Pythons (its default), installs; None when there is none.
    """
    explicit = os.environ.get("LAYER_PYTHON")
    if explicit:
        probe = subprocess.run(  # noqa: S603 - the deployer's own interpreter
            [explicit, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
            capture_output=True,
            text=True,
            check=False,
        )
        if probe.returncode != 0 or probe.stdout.strip() != version:
            found = probe.stdout.strip() or probe.stderr.strip()[-200:]
            raise LayerBuildError(f"LAYER_PYTHON={explicit} is not Python {version} ({found or 'did not run'})")
        return explicit
    uv = shutil.which("uv")
    if uv is None:
        return None
    env = {key: value for key, value in os.environ.items() if key not in ("VIRTUAL_ENV", "UV_PROJECT")}
    # `uv run --no-project --python X` finds X, or downloads it where uv may; it prints the interpreter's path.
    command = [uv, "run", "--quiet", "--no-project", "--no-config", "--python", version, "python", "-c"]
    command.append("import sys; print(sys.executable)")
    result = subprocess.run(command, capture_output=True, text=True, env=env, check=False)  # noqa: S603
    if result.returncode != 0 or not result.stdout.strip():
        return None
    return result.stdout.strip()


def compile_bytecode(site: Path, python: str) -> None:
    """Compile every module under ``site`` with ``python``, as unchecked-hash ``.pyc`` files.

    Lambda's ``/opt`` is read-only, so a layer without them compiles every module it imports from source on
    every cold start (``bench/README.md`` measures it). *Unchecked hash*: the interpreter loads the ``.pyc``
    without looking at the source's timestamp (unzipping changes it). The files hold no time and name their
    source by its path in Lambda (``/opt/python/...``), not by where it was built, so the same sources build
    the same asset on any machine.
    """
    command = [python, "-m", "compileall", "-q", "-j", "0", "--invalidation-mode", "unchecked-hash"]
    command += ["-s", str(site), "-p", f"{LAYER_MOUNT}/python", str(site)]
    result = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603
    if result.returncode != 0:
        raise LayerBuildError(f"compiling the layer failed ({' '.join(command)}):\n{result.stdout}\n{result.stderr}")


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
    project_dir: Path = REPO_ROOT,
    rds_ca_bundle: Path | None = None,
    python_version: str = LAYER_PYTHON_VERSION,
    platform: str = LAYER_PLATFORM,
    installer: str | None = None,
    runtime_provided: frozenset[str] = RUNTIME_PROVIDED,
    bytecode_python: str | None = None,
) -> LayerBuild:
    """Build the layer into ``output_dir`` (created if missing, must be empty) and describe the result.

    ``source_dir`` holds ``requirements.txt`` and ``python/chatcore``; ``project_dir`` the ``pyproject.toml``
    and ``uv.lock`` the wheels come from. ``rds_ca_bundle`` (RDS's global bundle, checked) is copied into
    ``certs/``; the CDK asset always passes one, tools that only measure the layer may leave it out.
    The modules are compiled to ``.pyc`` by ``bytecode_python``, by default :func:`runtime_python`'s; with no
    interpreter of the runtime's Python the layer ships without them, and says so on standard error.
    Raises :class:`LayerBuildError` when the export, the install or the compilation fails (its output is in the
    message).
    """
    root = Path(output_dir)
    root.mkdir(parents=True, exist_ok=True)
    if any(root.iterdir()):
        raise LayerBuildError(f"layer output folder {root} is not empty")
    rds_pem = check_rds_bundle(rds_ca_bundle) if rds_ca_bundle is not None else None
    site = root / "python"
    site.mkdir()
    locked = locked_requirements(project_dir, source_dir=source_dir, runtime_provided=runtime_provided)
    chosen = installer or _default_installer()
    env = {**os.environ, "PIP_NO_INPUT": "1"}
    # The CDK CLI runs the app inside `uv run`; the target install must not touch that environment.
    env.pop("VIRTUAL_ENV", None)
    with tempfile.TemporaryDirectory(prefix="chat-layer-") as scratch:
        requirements = Path(scratch) / "requirements.txt"
        requirements.write_text(locked, encoding="utf-8")
        command = install_command(
            requirements, site, python_version=python_version, platform=platform, installer=chosen
        )
        result = subprocess.run(command, capture_output=True, text=True, env=env, check=False)  # noqa: S603
    if result.returncode != 0:
        raise LayerBuildError(
            f"installing the layer requirements failed ({' '.join(command)}):\n{result.stdout}\n{result.stderr}"
        )
    # A safety net: the export already left these out, so this normally removes nothing.
    removed = _remove_distributions(site, runtime_provided)
    shutil.rmtree(site / "bin", ignore_errors=True)  # console scripts: nothing in a layer runs them
    (site / ".lock").unlink(missing_ok=True)  # uv's install lock file
    shutil.copytree(
        source_dir / "python" / LAYER_PACKAGE,
        site / LAYER_PACKAGE,
        ignore=shutil.ignore_patterns("__pycache__", "*.pyc", ".mypy_cache"),
    )
    bytecode = bytecode_python or runtime_python(python_version)
    if bytecode is None:
        print(  # a deploy's console: the one place a deployer sees it
            f"chat layer: no Python {python_version} on this machine (install one: uv python install"
            f" {python_version}, or set LAYER_PYTHON), so the layer ships without .pyc files and every cold"
            " start compiles what it imports from source",
            file=sys.stderr,
        )
    else:
        compile_bytecode(site, bytecode)
        print(f"chat layer: .pyc compiled with {bytecode}", file=sys.stderr)
    certs = root / CERTS_DIR
    certs.mkdir()
    (certs / PROXY_CA_FILE).write_bytes(amazon_trust_roots_pem())
    if rds_pem is not None:
        (certs / INSTANCE_CA_FILE).write_bytes(rds_pem)
    return LayerBuild(root=root, installer=chosen, removed=removed, bytecode=bytecode)


@jsii.implements(ILocalBundling)
class LocalLayerBundling:
    """CDK local bundling: runs :func:`build_layer` in the asset output folder instead of a container."""

    def __init__(self, source_dir: Path, rds_ca_bundle: Path) -> None:
        self._source_dir = source_dir
        self._rds_ca_bundle = rds_ca_bundle

    def try_bundle(self, output_dir: str, *args: Any, **kwargs: Any) -> bool:
        build_layer(Path(output_dir), source_dir=self._source_dir, rds_ca_bundle=self._rds_ca_bundle)
        return True


def layer_code(
    source_dir: Path = LAYER_SOURCE_DIR,
    *,
    rds_ca_bundle: Path = DEFAULT_RDS_CA_BUNDLE,
    exclude: Sequence[str] = (),
) -> lambda_.Code:
    """The layer's asset: bundled locally, hashed by its output so a new dependency version is a new layer.

    The RDS CA bundle is fetched when missing and checked first, so a missing or wrong one fails the synth
    with the download command.
    """
    check_rds_bundle(fetch_rds_bundle(rds_ca_bundle))
    return lambda_.Code.from_asset(
        str(source_dir),
        asset_hash_type=AssetHashType.OUTPUT,
        exclude=["**/__pycache__", "**/*.pyc", *exclude],
        bundling=BundlingOptions(
            # Never pulled: the local bundler always succeeds or fails with the installer's message.
            image=DockerImage.from_registry(f"public.ecr.aws/sam/build-python{LAYER_PYTHON_VERSION}"),
            local=LocalLayerBundling(source_dir, rds_ca_bundle),
        ),
    )
