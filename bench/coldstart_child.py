"""The child process of benchmark 3 (cold start): one fresh interpreter running one function as Lambda does.

``python -P bench/coldstart_child.py < spec.json``. The spec names a folder and a module (``handler`` in
``functions/<name>/``, or ``<name>`` in ``bench/baseline_handlers/``), the layer folder and the events. The
child puts the layer and then the folder at the front of ``sys.path`` (Lambda: ``/opt/python``, then
``/var/task``), imports the module (Lambda's init phase), calls its ``handler`` with each event in turn and
prints one JSON line: for the import and for each invocation, the wall and CPU time split into phases.

The phases are measured by wrapping, in this process only, a few functions of the import system, boto3,
botocore, psycopg, pydantic and Powertools; never product code. Time is charged exclusively to the
innermost phase running on the main thread (an import inside a client creation is an import; a model
built while importing a module is a model):

* ``import``: finding, loading and running modules (``importlib._bootstrap._find_and_load``), also per
  top-level package;
* ``models``: pydantic building validators and serializers (``complete_model_class``, ``complete_dataclass``,
  ``TypeAdapter._init_core_attrs``), which Powertools' parser and event handler and pydantic-settings use;
* ``clients``: boto3 sessions, botocore clients and credential resolution;
* ``database``: secrets (Secrets Manager's ``GetSecretValue``, through Powertools or boto3) and opening
  PostgreSQL connections (TLS and the password login included);
* ``gc``: CPython's cyclic garbage collector, whatever it interrupted (``gc.callbacks``);
* ``work``: the rest of an invocation: the handler's own code, its AWS and SQL requests and their answers;
* ``harness``: this file's own bookkeeping (left out of every reported number).

With ``compile_from_source`` (path prefixes), the modules there are compiled from source on every import, as
Lambda runs a package shipped without ``.pyc`` files (its file system is read-only, so nothing is cached).

It also counts the AWS API calls made through botocore (operation names) and the SQL statements run,
per invocation, so the benchmark can show that ours and the baseline made the same requests. Before the
function's module, only the standard-library modules the Lambda runtime's own bootstrap imports are
(``RUNTIME_PRELOADED``), as in Lambda.
"""

from __future__ import annotations

import _frozen_importlib
import _frozen_importlib_external
import _thread
import gc
import json
import os
import sys
import time

# Not ``typing.TYPE_CHECKING``: importing typing here would take its import out of the handlers' time.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

#: What the Lambda Python runtime's bootstrap (awslambdaric) has imported before it imports the handler,
#: so neither side is charged for them.
RUNTIME_PRELOADED = ("decimal", "importlib", "json", "logging", "os", "socket", "traceback", "warnings")

#: The phases besides imports, which are charged per top-level package as ``import:<package>``.
PHASES = ("gc", "models", "clients", "database", "work", "harness")


class PhaseClock:
    """Exclusive wall and CPU time per phase, on the main thread (a stack of the phases entered)."""

    def __init__(self) -> None:
        self.main = _thread.get_ident()
        self.stack = ["harness"]
        self.wall: dict[str, float] = {}
        self.cpu: dict[str, float] = {}
        self._wall_mark = time.perf_counter()
        self._cpu_mark = time.process_time()

    def _charge(self) -> None:
        wall, cpu = time.perf_counter(), time.process_time()
        top = self.stack[-1]
        self.wall[top] = self.wall.get(top, 0.0) + wall - self._wall_mark
        self.cpu[top] = self.cpu.get(top, 0.0) + cpu - self._cpu_mark
        self._wall_mark, self._cpu_mark = wall, cpu

    def enter(self, phase: str) -> None:
        self._charge()
        self.stack.append(phase)

    def leave(self) -> None:
        self._charge()
        self.stack.pop()

    def snapshot(self) -> dict[str, tuple[float, float]]:
        self._charge()
        return {phase: (self.wall[phase], self.cpu.get(phase, 0.0)) for phase in self.wall}


CLOCK = PhaseClock()
#: AWS operations (``service.Operation``) and SQL statements seen so far, in order.
AWS_CALLS: list[str] = []
SQL_STATEMENTS: list[str] = []


def timed(phase: str, function: Callable[..., Any]) -> Callable[..., Any]:
    """``function``, its time on the main thread charged to ``phase``."""

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if _thread.get_ident() != CLOCK.main:
            return function(*args, **kwargs)
        CLOCK.enter(phase)
        try:
            return function(*args, **kwargs)
        finally:
            CLOCK.leave()

    wrapper.__name__ = getattr(function, "__name__", "wrapper")
    wrapper.__qualname__ = getattr(function, "__qualname__", "wrapper")
    wrapper.__doc__ = function.__doc__
    wrapper.__wrapped__ = function  # type: ignore[attr-defined]
    return wrapper


def _wrap_method(owner: Any, name: str, phase: str) -> None:
    original = owner.__dict__.get(name)
    if original is None:
        return
    if isinstance(original, classmethod):
        setattr(owner, name, classmethod(timed(phase, original.__func__)))
    else:
        setattr(owner, name, timed(phase, original))


def collecting(phase: str, info: dict[str, int]) -> None:
    """A ``gc.callbacks`` entry: a collection on the main thread is charged to ``gc``."""
    if _thread.get_ident() != CLOCK.main:
        return
    if phase == "start":
        CLOCK.enter("gc")
    elif CLOCK.stack[-1] == "gc":
        CLOCK.leave()


# ---------------------------------------------------------------- wrappers installed as modules load


def _botocore_client(module: Any) -> None:
    original = module.BaseClient._make_api_call

    def make_api_call(self: Any, operation_name: str, api_params: Any) -> Any:
        service = self.meta.service_model.service_name
        AWS_CALLS.append(f"{service}.{operation_name}")
        if service == "secretsmanager":  # reading a secret is the database phase's, whoever asks
            return timed("database", original)(self, operation_name, api_params)
        return original(self, operation_name, api_params)

    module.BaseClient._make_api_call = make_api_call


def _botocore_session(module: Any) -> None:
    _wrap_method(module.Session, "create_client", "clients")
    _wrap_method(module.Session, "get_credentials", "clients")


def _boto3_session(module: Any) -> None:
    _wrap_method(module.Session, "__init__", "clients")


def _psycopg(module: Any) -> None:
    # ``psycopg.connect`` is ``Connection.connect``, bound when psycopg was imported: both are replaced.
    _wrap_method(module.Connection, "connect", "database")
    module.connect = module.Connection.connect
    cursor = module.Cursor
    for name in ("execute", "executemany"):
        original = cursor.__dict__[name]

        def counted(self: Any, query: Any, *args: Any, _original: Any = original, **kwargs: Any) -> Any:
            SQL_STATEMENTS.append(" ".join(str(getattr(query, "_obj", query)).split())[:160])
            return _original(self, query, *args, **kwargs)

        setattr(cursor, name, counted)


def _model_construction(module: Any) -> None:
    # Not ModelMetaclass.__new__ or model_rebuild: they read their caller's frame for the namespace.
    module.complete_model_class = timed("models", module.complete_model_class)


def _dataclasses(module: Any) -> None:
    module.complete_dataclass = timed("models", module.complete_dataclass)


def _type_adapter(module: Any) -> None:
    _wrap_method(module.TypeAdapter, "_init_core_attrs", "models")


HOOKS: dict[str, Callable[[Any], None]] = {
    "botocore.client": _botocore_client,
    "botocore.session": _botocore_session,
    "boto3.session": _boto3_session,
    "psycopg": _psycopg,
    "pydantic._internal._model_construction": _model_construction,
    "pydantic._internal._dataclasses": _dataclasses,
    "pydantic.type_adapter": _type_adapter,
}
INSTALLED: list[str] = []

#: The import system as CPython runs it (its private ``_find_and_load`` is what every import statement calls).
_bootstrap: Any = _frozen_importlib
_find_and_load = _bootstrap._find_and_load


def find_and_load(name: str, import_: Any) -> Any:
    """The import system's ``_find_and_load``, timed as ``import``, installing the wrappers as modules load."""
    if _thread.get_ident() == CLOCK.main:
        CLOCK.enter("import:" + name.partition(".")[0])
        try:
            module = _find_and_load(name, import_)
        finally:
            CLOCK.leave()
    else:
        module = _find_and_load(name, import_)
    hook = HOOKS.pop(name, None)
    if hook is not None:
        CLOCK.enter("harness")
        try:
            hook(module)
            INSTALLED.append(name)
        finally:
            CLOCK.leave()
    return module


class LambdaImports:
    """Refuses the top-level modules of ``site-packages`` that Lambda would not have: neither the layer's locked
    dependencies nor the runtime's boto3 (``spec["importable"]``). Each refusal is noted."""

    def __init__(self, importable: list[str], site_packages: list[str]) -> None:
        self.allowed = {*importable, *sys.stdlib_module_names, *sys.builtin_module_names}
        self.site_packages = tuple(os.path.join(folder, "") for folder in site_packages)
        self.refused: list[str] = []

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> None:
        if "." in name or name in self.allowed:
            return None
        found = _frozen_importlib_external.PathFinder.find_spec(name, path)
        locations = [found.origin or "", *(found.submodule_search_locations or [])] if found else []
        if any(location.startswith(self.site_packages) for location in locations):
            self.refused.append(name)
            raise ModuleNotFoundError(f"No module named {name!r} (not in the Lambda layer or runtime)", name=name)
        return None


def compile_from_source(prefixes: list[str]) -> None:
    """Import the modules under ``prefixes`` as Lambda imports a package zipped without bytecode caches, on a
    read-only file system: each is compiled from its source on every cold start (and nothing is cached)."""
    external: Any = _frozen_importlib_external
    original = external.cache_from_source
    roots = tuple(prefixes)

    def cache_from_source(path: str, debug_override: Any = None, *, optimization: Any = None) -> str:
        if path.startswith(roots):
            raise NotImplementedError("no bytecode cache here")  # the loader then compiles the source
        result: str = original(path, debug_override, optimization=optimization)
        return result

    external.cache_from_source = cache_from_source


class Context:
    """The parts of Lambda's context object that Powertools reads."""

    def __init__(self, name: str, number: int) -> None:
        self.function_name = name
        self.function_version = "$LATEST"
        self.memory_limit_in_mb = 512
        self.invoked_function_arn = f"arn:aws:lambda:us-east-1:000000000000:function:{name}"
        self.aws_request_id = f"00000000-0000-0000-0000-{number:012d}"
        self.log_group_name = f"/aws/lambda/{name}"
        self.log_stream_name = "bench"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


def _delta(after: dict[str, tuple[float, float]], before: dict[str, tuple[float, float]]) -> dict[str, Any]:
    """What happened between two snapshots: wall and CPU per phase (imports summed, and per package)."""
    wall = {p: after[p][0] - before.get(p, (0.0, 0.0))[0] for p in after}
    cpu = {p: after[p][1] - before.get(p, (0.0, 0.0))[1] for p in after}
    packages = {p.removeprefix("import:"): w for p, w in wall.items() if p.startswith("import:") and w > 0}
    phases = {"import": sum(packages.values()), **{p: wall.get(p, 0.0) for p in PHASES if p != "harness"}}
    cpu_phases = {
        "import": sum(c for p, c in cpu.items() if p.startswith("import:")),
        **{p: cpu.get(p, 0.0) for p in PHASES if p != "harness"},
    }
    return {
        "wall": sum(phases.values()),
        "cpu": sum(cpu_phases.values()),
        "phases": phases,
        "cpu_phases": cpu_phases,
        "imports": packages,
    }


def main() -> None:
    spec = json.loads(sys.stdin.read())
    for name in RUNTIME_PRELOADED:
        __import__(name)
    _bootstrap._find_and_load = find_and_load
    gc.callbacks.append(collecting)
    result: dict[str, Any] = {"invocations": []}
    imports = LambdaImports(spec.get("importable") or [], spec.get("site_packages") or [])
    if spec.get("importable"):
        sys.meta_path.insert(0, imports)
    if spec.get("compile_from_source"):
        compile_from_source(spec["compile_from_source"])
    if spec.get("module"):
        # As Lambda: the function's folder (/var/task) first of all, the layer (/opt/python), the runtime's
        # boto3 (/var/runtime) when it is not the interpreter's own site-packages.
        sys.path[:0] = [spec["folder"], spec["layer"], *([spec["runtime"]] if spec.get("runtime") else [])]
        before = CLOCK.snapshot()
        module = __import__(spec["module"])  # timed by find_and_load, as every import
        result["init"] = _delta(CLOCK.snapshot(), before)
        result["init"]["aws_calls"] = AWS_CALLS[:]
        handler = module.handler
        for number, event in enumerate(spec["events"], start=1):
            calls, statements = len(AWS_CALLS), len(SQL_STATEMENTS)
            before = CLOCK.snapshot()
            CLOCK.enter("work")
            answer = handler(event, Context(spec["name"], number))
            CLOCK.leave()
            record = _delta(CLOCK.snapshot(), before)
            record["aws_calls"] = AWS_CALLS[calls:]
            record["sql"] = SQL_STATEMENTS[statements:]
            record["status"] = answer.get("statusCode") if isinstance(answer, dict) else None
            record["body"] = str(answer.get("body", ""))[:400] if isinstance(answer, dict) else None
            result["invocations"].append(record)
    result["wrapped"] = INSTALLED
    result["refused"] = sorted(set(imports.refused))
    sys.stdout.write(json.dumps(result) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
