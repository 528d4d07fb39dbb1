"""The layering of the common layer, enforced by the import-linter contracts in ``pyproject.toml``."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
LAYER = REPO / "layers" / "common" / "python" / "chatcore"
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _lint(config: Path, cwd: Path, pythonpath: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/bin:/bin"} | ({"PYTHONPATH": pythonpath} if pythonpath else {})
    return subprocess.run(
        [str(LINT_IMPORTS), "--config", str(config), "--no-cache"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def test_the_tree_keeps_every_import_contract() -> None:
    """Domain and services import no psycopg/boto3/botocore or adapter; the layer imports no local/infra/bench."""
    done = _lint(REPO / "pyproject.toml", REPO)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "3 kept, 0 broken" in done.stdout


@pytest.mark.parametrize(
    ("module", "line", "contract"),
    [
        ("service/rooms.py", "import botocore.exceptions", "Domain and services touch no database"),
        ("rules.py", "from chatcore.postgres.store import ChatStore", "Domain and services touch no database"),
        ("service/chat.py", "import chatcore.composition", "each above only what it may use"),
        ("aws/registry.py", "import chat_local.gateway", "The layer ships alone"),
    ],
)
def test_a_forbidden_import_breaks_its_contract(tmp_path: Path, module: str, line: str, contract: str) -> None:
    """A copy of the layer with one forbidden import added fails lint-imports, naming the broken contract."""
    copy = tmp_path / "chatcore"
    shutil.copytree(LAYER, copy, ignore=shutil.ignore_patterns("__pycache__"))
    target = copy / module
    target.write_text(target.read_text() + f"\n{line}  # noqa\n")
    settings = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["importlinter"]
    config = tmp_path / "importlinter.toml"
    config.write_text(_toml({"tool": {"importlinter": settings}}))
    # The copy shadows the installed layer; chat_local and the rest resolve from the repository as usual.
    done = _lint(config, tmp_path, pythonpath=f"{tmp_path}:{REPO / 'local'}:{REPO}")
    assert done.returncode == 1, done.stdout[-4000:]
    assert "BROKEN" in done.stdout
    broken = [row for row in done.stdout.splitlines() if row.endswith("BROKEN")]
    assert any(contract in row for row in broken), done.stdout[-4000:]


def _toml(data: dict[str, object]) -> str:
    """Just enough TOML for the import-linter settings (tables, arrays of tables, strings, lists, booleans)."""
    lines: list[str] = []
    settings = data["tool"]["importlinter"]  # type: ignore[index]
    lines.append("[tool.importlinter]")
    contracts = settings.pop("contracts")
    for key, value in settings.items():
        lines.append(f"{key} = {_value(value)}")
    for contract in contracts:
        lines.append("[[tool.importlinter.contracts]]")
        lines.extend(f"{key} = {_value(value)}" for key, value in contract.items())
    return "\n".join(lines) + "\n"


def _value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'
