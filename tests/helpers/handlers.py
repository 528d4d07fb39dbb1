"""Loading a function's ``handler.py`` as a fresh module (a cold container), as Lambda would."""

from __future__ import annotations

import importlib.util
import itertools
import sys
from pathlib import Path
from types import ModuleType

from chat_local.lambdas import FUNCTIONS_DIR, LambdaContext

_counter = itertools.count()


def load_handler(function: str) -> ModuleType:
    path: Path = FUNCTIONS_DIR / function / "handler.py"
    name = f"_test_{function}_handler_{next(_counter)}"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def context(function: str) -> LambdaContext:
    return LambdaContext(function_name=function)
