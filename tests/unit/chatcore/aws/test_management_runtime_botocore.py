"""The Management API client under the botocore the Lambda Python runtime ships, not the one in uv.lock.

The layer leaves boto3 and botocore out (``layers/common/requirements.txt``: the runtime provides them), so
in production the client signs, raises the modelled exceptions and honours ``before-send`` handlers with
the runtime's botocore. This module builds a throwaway virtual environment with exactly that boto3 and
botocore plus the layer's own pinned requirements (what a function imports in Lambda), and runs
``test_management.py`` in it against the layer's source.

Which version: AWS's Lambda guide no longer lists the SDK in each Python runtime (its "Runtime-included SDK
versions" section says the version depends on the runtime and the Region, and gives a handler that prints
it). The latest report found for ``python3.12`` is boto3 and botocore 1.38.36, "as of today" on 2025-08-22
for both python3.12 and python3.13 (github.com/terricain/aioboto3/issues/381). Set ``RUNTIME_SDK`` to what
``print(botocore.__version__)`` says in a deployed function when it differs. The interpreter is this
machine's (3.11 here; no 3.12 is installed and uv may not download one), not the runtime's 3.12.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

RUNTIME_SDK = "1.38.36"
"""boto3 and botocore in the Lambda python3.12 runtime (see the module docstring for the source)."""

REPO = Path(__file__).resolve().parents[4]
LAYER_SOURCE = REPO / "layers" / "common" / "python"
LAYER_REQUIREMENTS = REPO / "layers" / "common" / "requirements.txt"
MODULE = Path(__file__).with_name("test_management.py")
#: The behaviours the run must have exercised (a filter that silently selected nothing would prove nothing).
REQUIRED = {
    "test_signature_is_the_one_botocore_computes",
    "test_post_reaches_the_endpoint_once_with_the_payload",
    "test_a_connection_the_server_closed_is_reopened_without_a_retry",
    "test_a_kept_connection_dropped_before_answering_is_reopened_without_a_retry",
    "test_answers_framed_in_chunks_or_by_closing_are_read_whole",
    "test_posts_over_tls_verify_the_certificate_and_reuse_the_connection",
    "test_gone_raises_the_clients_gone_exception",
    "test_throttling_and_server_errors_are_retried_with_backoff",
    "test_retries_stop_after_max_attempts_with_the_services_error",
    "test_an_unreachable_endpoint_raises_endpoint_connection_error",
    "test_broadcaster_over_the_fast_path_reports_each_outcome",
    "test_a_before_send_handler_answers_instead_of_the_wire",
}
#: What uv prints when it cannot reach the package index (then the test is skipped, not failed).
UNREACHABLE = ("failed to fetch", "error sending request", "dns error", "connection refused", "timed out", "network")


def _uv() -> str:
    uv = os.environ.get("UV")  # `uv run` names its own binary here
    if not uv:
        import shutil

        uv = shutil.which("uv") or ""
    if not uv:
        pytest.skip("uv is not on PATH: cannot build the runtime-botocore environment")
    return uv


def _uv_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME")}
    env["UV_PYTHON_DOWNLOADS"] = "never"
    return env


def _child_env() -> dict[str, str]:
    """A function's environment, roughly: the layer on the path, no AWS settings, no proxies."""
    env = {k: os.environ[k] for k in ("PATH", "HOME", "LANG", "TMPDIR") if k in os.environ}
    env["PYTHONPATH"] = str(LAYER_SOURCE)
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


@pytest.fixture(scope="module")
def runtime_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A virtual environment with the runtime's boto3/botocore and the layer's requirements (uv's cache first)."""
    uv = _uv()
    venv = tmp_path_factory.mktemp("runtime-botocore") / "venv"
    subprocess.run(
        [uv, "venv", "--quiet", "--python", sys.executable, str(venv)],
        check=True,
        env=_uv_env(),
        capture_output=True,
        timeout=60,
    )
    python = venv / "bin" / "python"
    packages = [
        f"boto3=={RUNTIME_SDK}",
        f"botocore=={RUNTIME_SDK}",
        "-r",
        str(LAYER_REQUIREMENTS),
        # For the tests themselves, at this environment's versions (so usually from uv's cache).
        f"pytest=={importlib.metadata.version('pytest')}",
        f"cryptography=={importlib.metadata.version('cryptography')}",
    ]
    install = [uv, "pip", "install", "--quiet", "--python", str(python), *packages]
    offline = subprocess.run([*install, "--offline"], env=_uv_env(), capture_output=True, text=True, timeout=120)
    if offline.returncode != 0:
        try:
            online = subprocess.run(install, env=_uv_env(), capture_output=True, text=True, timeout=240)
        except subprocess.TimeoutExpired:
            pytest.skip("the package index did not answer within 240 s: no runtime-botocore environment")
        if online.returncode != 0:
            if any(marker in online.stderr.lower() for marker in UNREACHABLE):
                pytest.skip(f"the package index is unreachable: {online.stderr.strip().splitlines()[-1]}")
            pytest.fail(f"installing the runtime's SDK failed:\n{online.stderr}")
    return python


def test_the_environment_has_the_runtime_sdk_and_the_layer_from_this_checkout(runtime_python: Path) -> None:
    """The throwaway interpreter imports boto3/botocore at the runtime's version and chatcore from this repo."""
    probe = (
        "import json, boto3, botocore, chatcore.aws.management as m;"
        "print(json.dumps([boto3.__version__, botocore.__version__, botocore.__file__, m.__file__]))"
    )
    result = subprocess.run(
        [str(runtime_python), "-c", probe], env=_child_env(), capture_output=True, text=True, timeout=60, check=True
    )
    boto3_version, botocore_version, botocore_file, module_file = json.loads(result.stdout)
    assert (boto3_version, botocore_version) == (RUNTIME_SDK, RUNTIME_SDK)
    assert Path(botocore_file).is_relative_to(runtime_python.parent.parent)
    assert Path(module_file) == LAYER_SOURCE / "chatcore" / "aws" / "management.py"


def test_the_management_client_tests_pass_under_the_runtime_botocore(runtime_python: Path, tmp_path: Path) -> None:
    """test_management.py (all but the moto test, which needs this repo's conftest) passes with the runtime's SDK."""
    ini = tmp_path / "pytest.ini"
    ini.write_text("[pytest]\n")  # not pyproject.toml's options: they name plugins this environment lacks
    command = [str(runtime_python), "-m", "pytest", "-q", "-rA", "-p", "no:cacheprovider", "--noconftest"]
    command += ["-c", str(ini), "--rootdir", str(REPO), "-k", "not moto", str(MODULE)]
    result = subprocess.run(command, cwd=REPO, env=_child_env(), capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr

    outcomes = [line.split(" ", 1) for line in result.stdout.splitlines() if line.startswith(("PASSED ", "SKIPPED "))]
    assert [line for outcome, line in outcomes if outcome != "PASSED"] == []
    passed = {line.split("::", 1)[1].split("[", 1)[0] for _outcome, line in outcomes}
    assert passed >= REQUIRED, f"not run: {sorted(REQUIRED - passed)}"
