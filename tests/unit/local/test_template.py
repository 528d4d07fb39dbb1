"""The template's cache key, app command, trimming and fallback note; a handler that cannot be imported."""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path

import pytest
from chat_local.pool import FunctionPool
from chat_local.spec import FunctionSpec
from chat_local.synth import AppCommandError, app_entry
from chat_local.template import cache_key, fallback_note, input_files, synth_context, trim

PROBE_APP = Path(__file__).resolve().parents[2] / "fidelity" / "probe_app"


def test_the_app_command_is_read_as_the_cli_would_run_it() -> None:
    """``python -m module`` and ``python file.py`` (behind ``uv run`` or not); anything else is refused."""
    assert app_entry("uv run --frozen python -m infra.app") == ("module", "infra.app")
    assert app_entry("python3 -u app.py") == ("path", "app.py")
    with pytest.raises(AppCommandError):
        app_entry("npx ts-node bin/app.ts")


def test_the_key_changes_with_the_app_and_the_context_not_with_function_code(tmp_path: Path) -> None:
    """The cache is keyed by cdk.json, the app's own code and the context; a handler's edit re-synthesizes nothing."""
    app = tmp_path / "app"
    shutil.copytree(PROBE_APP, app, ignore=shutil.ignore_patterns(".local", "__pycache__"))
    first = cache_key(app, synth_context(app))
    assert input_files(app) == [app / "cdk.json", app / "app.py"]
    (app / "functions" / "echo" / "handler.py").write_text("# edited\n")
    assert cache_key(app, synth_context(app)) == first
    assert cache_key(app, synth_context(app, {"stage": "other"})) != first
    (app / "app.py").write_text((app / "app.py").read_text() + "\n# edited\n")
    assert cache_key(app, synth_context(app)) != first


def test_trimming_keeps_what_the_local_stack_reads_and_the_type_of_the_rest() -> None:
    """Functions and API resources whole; any other resource only its type (what a stand-in is chosen by)."""
    body = {
        "Resources": {
            "Fn": {"Type": "AWS::Lambda::Function", "Properties": {"Handler": "h.h"}},
            "Role": {"Type": "AWS::IAM::Role", "Properties": {"AssumeRolePolicyDocument": {}}},
        }
    }
    assert trim(body) == {"Resources": {"Fn": body["Resources"]["Fn"], "Role": {"Type": "AWS::IAM::Role"}}}
    assert json.loads(json.dumps(trim(body))) == trim(body)


def test_a_handler_that_cannot_be_imported_fails_the_invocation_with_lambdas_error(tmp_path: Path) -> None:
    """Lambda's Runtime.ImportModuleError: the init fails, the invocation fails, no container is kept."""
    (tmp_path / "handler.py").write_text("import no_such_module\n")
    spec = FunctionSpec("Fn", "fn", "s-Fn", str(tmp_path), "handler.handler", "python3.12", (), {})

    async def invoke() -> tuple[str, str, int]:
        pool = FunctionPool(spec, {})
        invocation = await pool.invoke({})
        await pool.close()
        assert invocation.error is not None
        return invocation.outcome, invocation.error["errorType"], len(pool.containers)

    assert asyncio.run(invoke()) == ("init", "Runtime.ImportModuleError", 0)


def test_a_fallback_synth_is_one_calm_line_naming_what_stopped_the_app() -> None:
    """A fresh clone without RDS's CA bundle starts with one line saying why the layer comes from its source folder,
    not the deployer's download instructions."""
    error = (
        "LayerBuildError: the RDS CA bundle /repo/infra/certs/rds-global-bundle.pem is missing; the migration"
        " verifies the database's certificate with it: download it: curl -fsSL -o /repo/infra/certs/x.pem https://x"
    )
    note = fallback_note(error)
    assert "the RDS CA bundle /repo/infra/certs/rds-global-bundle.pem is missing" in note
    assert "curl" not in note and "\n" not in note
    assert note.startswith("template: the layer is served from its source folder")
