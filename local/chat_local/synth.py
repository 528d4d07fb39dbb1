"""``python -m chat_local.synth``: synthesize a CDK app in this process and leave its cloud assembly in a folder.

It does what ``cdk synth`` does without the CLI: the app command in the project's ``cdk.json`` (``python -m
module`` or ``python path.py``) is run here, with the output folder in ``CDK_OUTDIR`` and the context in the
file named by ``CONTEXT_OVERFLOW_LOCATION_ENV``, as the CLI hands them to an app. (A file, not
``CDK_CONTEXT_JSON``: jsii's Node process copies the environment once, but every ``App`` reads the file.)
Run in a child process of ``chat-local`` so that jsii's Node process and the constructs' memory go when it
ends.

If the app fails and ``--fallback-context`` names a context, it runs once more with that context added (for
this project: ``layerAsset=source``, when the layer cannot be bundled) and says so. The last line on stdout
is a JSON report: ``{"ok", "fallback", "error", "seconds"}``.
"""

from __future__ import annotations

import argparse
import json
import os
import runpy
import shlex
import sys
import time
import traceback
from pathlib import Path
from typing import Any


class AppCommandError(ValueError):
    """``cdk.json``'s app command is not one this module can run in-process."""


def app_entry(command: str) -> tuple[str, str]:
    """``("module", name)`` for ``... python -m name``, ``("path", file)`` for ``... python file.py``."""
    words = shlex.split(command)
    for index, word in enumerate(words):
        if Path(word).name.startswith("python"):
            rest = words[index + 1 :]
            while rest and rest[0].startswith("-") and rest[0] != "-m":
                rest = rest[1:]
            if len(rest) >= 2 and rest[0] == "-m":
                return "module", rest[1]
            if rest and rest[0].endswith(".py"):
                return "path", rest[0]
    raise AppCommandError(f"cdk.json's app command {command!r} is not `python -m module` or `python file.py`")


def _run_app(project: Path, command: str, out: Path, context: dict[str, Any]) -> None:
    context_file = out.parent / f"{out.name}.context.json"
    context_file.write_text(json.dumps(context))
    os.environ["CDK_OUTDIR"] = str(out)
    os.environ["CONTEXT_OVERFLOW_LOCATION_ENV"] = str(context_file)
    os.environ.pop("CDK_CONTEXT_JSON", None)
    kind, target = app_entry(command)
    if kind == "module":
        runpy.run_module(target, run_name="__main__", alter_sys=True)
    else:
        runpy.run_path(str(project / target), run_name="__main__")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m chat_local.synth", description=__doc__.split("\n\n")[0])
    parser.add_argument("--project", type=Path, required=True, help="the folder holding cdk.json")
    parser.add_argument("--out", type=Path, required=True, help="the cloud assembly's folder (created)")
    parser.add_argument("--context", type=Path, required=True, help="a JSON file: the whole context")
    parser.add_argument("--fallback-context", type=Path, help="a JSON file: context added for a second attempt")
    args = parser.parse_args(argv)
    started = time.monotonic()
    project = args.project.resolve()
    command = json.loads((project / "cdk.json").read_text())["app"]
    context = json.loads(args.context.read_text())
    fallback = json.loads(args.fallback_context.read_text()) if args.fallback_context else None
    os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "1")
    os.chdir(project)
    sys.path.insert(0, str(project))
    report: dict[str, Any] = {"ok": False, "fallback": False, "error": None}
    args.out.mkdir(parents=True, exist_ok=True)
    try:
        _run_app(project, command, args.out, context)
        report["ok"] = True
    except Exception as exc:
        first = f"{type(exc).__name__}: {exc}"
        report["error"] = first
        if fallback:
            print(f"synth: the app failed ({first}); once more with context {fallback}", file=sys.stderr, flush=True)
            try:
                _run_app(project, command, args.out, {**context, **fallback})
                report.update(ok=True, fallback=True)
            except Exception as again:
                traceback.print_exc()
                report["error"] = f"{first}; with {fallback}: {type(again).__name__}: {again}"
        else:
            traceback.print_exc()
    report["seconds"] = round(time.monotonic() - started, 2)
    print(json.dumps(report), flush=True)
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
