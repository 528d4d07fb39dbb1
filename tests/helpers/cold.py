"""Layer code in a fresh interpreter, as a cold Lambda container runs it: which pydantic models are built."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

LAYER = Path(__file__).resolve().parents[2] / "layers" / "common" / "python"

_PROBE = """
import importlib, json, sys
from pydantic import BaseModel

module = importlib.import_module(sys.argv[1])
models = [v for v in vars(module).values() if isinstance(v, type) and issubclass(v, BaseModel)]

def built():
    return sorted(
        name for name, value in vars(module).items()
        if isinstance(value, type) and issubclass(value, BaseModel) and value.__pydantic_complete__
    )

before = built()
result = eval(sys.argv[2], {"module": module})
print(json.dumps({"count": len(models), "before": before, "after": built(), "result": type(result).__name__}))
"""


@dataclass(frozen=True)
class ColdModels:
    """The models of a module in a fresh interpreter, before and after one expression used it."""

    count: int
    """How many pydantic models the module defines."""
    before: list[str]
    """Those built by the import alone."""
    after: list[str]
    """Those built once the expression ran."""
    result: str
    """The type name of the expression's value."""


def models_built_cold(module: str, expression: str) -> ColdModels:
    """Import ``module`` (the layer only on the path) in a fresh interpreter, then evaluate ``expression`` with
    the module as ``module``; which of its models were built at each point."""
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, module, expression],
        env={"PYTHONPATH": str(LAYER), "PATH": ""},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return ColdModels(**json.loads(done.stdout))
