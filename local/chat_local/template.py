"""The synthesized CloudFormation template the local stack is driven by: synthesized, cached, or the snapshot.

``chat-local`` serves what the CDK app deploys. On start it needs the app's template:

1. **cached** -- ``<project>/.local/template-cache/<key>.json``, where the key is a hash of what the template
   depends on (``cdk.json``, every ``*.py`` of the app's package, :data:`EXTRA_INPUTS`, the context, the
   aws-cdk-lib version). A warm start reads it in milliseconds.
2. **synthesized** -- on a miss, :mod:`chat_local.synth` runs the app in a child process (no CDK CLI; cdk-nag,
   the validation plugin and asset bundling off, asset staging off so each function's code folder is
   its source folder): about 15-20 s cold on a 2-core machine, mostly jsii starting Node. If the app
   fails, it is run once more with :data:`FALLBACK_CONTEXT` (the layer asset from its source folder, no
   RDS CA bundle download), and the start says so.
3. **the committed snapshot** -- if the app cannot be synthesized at all (no Node, no aws-cdk-lib), the
   repository's own app falls back to :data:`SNAPSHOT`, a trimmed template committed beside this module,
   with a warning naming why and whether the snapshot is older than ``infra/``.
   ``python -m chat_local.template --write-snapshot`` refreshes it (a test checks it is current).

Only the resources the local stack reads are kept whole (:data:`KEPT_TYPES`); the others keep their type,
which is what an environment value pointing at them is mapped by (:mod:`chat_local.stand_ins`).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from chat_local.spec import ASSET_PATH, LocalSpec, read_template
from chat_local.synth import AppCommandError, app_entry

REPO_ROOT = Path(__file__).resolve().parents[2]
SNAPSHOT = Path(__file__).with_name("template_snapshot.json")
CACHE_FORMAT = 2
"""Bumped when what is cached changes shape: older entries are then ignored."""
#: The context every local synth adds to cdk.json's: no cdk-nag (its findings change nothing in the
#: template), no validation plugin, no bundling (the local stack runs each asset's source), no staging
#: (so ``aws:asset:path`` is the source folder), asset metadata on (so the folder is recorded).
LOCAL_CONTEXT: dict[str, Any] = {
    "nag": False,
    "@aws-cdk/core:validateAgainstDefaultRules": False,
    "aws:cdk:bundling-stacks": [],
    "aws:cdk:disable-asset-staging": True,
    "aws:cdk:enable-asset-metadata": True,
}
#: Added for a second attempt when the app fails: the layer's asset is its source folder, unbundled and
#: without RDS's CA bundle (which the first synth downloads, and a blocked network cannot).
FALLBACK_CONTEXT: dict[str, Any] = {"layerAsset": "source"}
#: Files outside the app's package that the template depends on: the layer's route and table definitions.
EXTRA_INPUTS = (
    "layers/common/python/chatcore/protocol/client.py",
    "layers/common/python/chatcore/aws/registry.py",
)
#: The resource types kept whole in the cached and committed templates.
KEPT_TYPES = frozenset(
    {
        "AWS::ApiGatewayV2::Api",
        "AWS::ApiGatewayV2::Stage",
        "AWS::ApiGatewayV2::Route",
        "AWS::ApiGatewayV2::RouteResponse",
        "AWS::ApiGatewayV2::Integration",
        "AWS::Lambda::Function",
        "AWS::Lambda::LayerVersion",
        "AWS::DynamoDB::Table",
        "AWS::S3::Bucket",
        "AWS::Events::Rule",
        "AWS::SQS::Queue",
        "AWS::Lambda::EventSourceMapping",
    }
)

Progress = Callable[[str], None]


class SynthError(RuntimeError):
    """The template could not be had; the message says why and what was tried."""


@dataclass(frozen=True)
class Template:
    """A trimmed template with the name of its stack, its folder for relative asset paths, and its origin."""

    body: dict[str, Any]
    stack_name: str
    base_dir: Path
    source: str

    def spec(self) -> LocalSpec:
        return read_template(self.body, stack_name=self.stack_name, base_dir=self.base_dir, source=self.source)


def cdk_json(project: Path) -> dict[str, Any]:
    path = project / "cdk.json"
    if not path.is_file():
        raise SynthError(f"{project} has no cdk.json: point --app at the folder of a CDK app")
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def synth_context(project: Path, overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """cdk.json's context, then :data:`LOCAL_CONTEXT`, then ``overrides`` (``--context``)."""
    return {**cdk_json(project).get("context", {}), **LOCAL_CONTEXT, **dict(overrides or {})}


def _app_sources(project: Path) -> list[Path]:
    """The app's own code: its top-level package's ``*.py`` (``infra/`` for ``python -m infra.app``), or its script."""
    try:
        kind, target = app_entry(str(cdk_json(project).get("app", "")))
    except AppCommandError:
        return []
    top = project / (target.split(".")[0] if kind == "module" else Path(target).parts[0])
    if top.is_dir():
        return sorted(p for p in top.rglob("*.py") if "__pycache__" not in p.parts)
    script = project / target if kind == "path" else top.with_suffix(".py")
    return [script] if script.is_file() else []


def input_files(project: Path) -> list[Path]:
    """What the template is computed from: cdk.json, the app's own code, :data:`EXTRA_INPUTS`."""
    files = [project / "cdk.json", *_app_sources(project)]
    files += [project / extra for extra in EXTRA_INPUTS if (project / extra).is_file()]
    return files


def _cdk_version() -> str:
    try:
        return metadata.version("aws-cdk-lib")
    except metadata.PackageNotFoundError:
        return "none"


def cache_key(project: Path, context: Mapping[str, Any]) -> str:
    """A hash of everything the template depends on (see the module's docstring)."""
    digest = hashlib.sha256()
    digest.update(f"{CACHE_FORMAT}\0{_cdk_version()}\0{project.resolve()}\0".encode())
    digest.update(json.dumps(context, sort_keys=True, default=str).encode())
    for path in input_files(project):
        digest.update(b"\0" + str(path.relative_to(project)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:24]


def trim(template: dict[str, Any]) -> dict[str, Any]:
    """``template`` with only :data:`KEPT_TYPES` whole and the type of every other resource."""
    resources = {
        logical_id: resource if resource.get("Type") in KEPT_TYPES else {"Type": resource.get("Type")}
        for logical_id, resource in template.get("Resources", {}).items()
    }
    return {"Resources": resources}


def _portable(template: dict[str, Any], base: Path) -> dict[str, Any]:
    """A copy for the committed snapshot: asset paths relative to ``base``, and nothing that changes with every
    edit of a function or the layer (asset hashes) or every synth (CDK's own handlers in a temporary folder)."""
    copy: dict[str, Any] = json.loads(json.dumps(template))
    for logical_id, resource in copy["Resources"].items():
        path = resource.get("Metadata", {}).get(ASSET_PATH)
        if path and Path(path).is_absolute():
            if not Path(path).is_relative_to(base):  # a CDK-provided handler: not one the local stack runs
                copy["Resources"][logical_id] = {"Type": resource["Type"]}
                continue
            resource["Metadata"] = {ASSET_PATH: str(Path(path).relative_to(base))}
        resource.get("Properties", {}).pop("Code", None)
        resource.get("Properties", {}).pop("Content", None)
    return copy


def _pick_stack(outdir: Path, stack: str | None) -> tuple[str, dict[str, Any]]:
    manifest = json.loads((outdir / "manifest.json").read_text())
    stacks = {
        name: artifact
        for name, artifact in manifest.get("artifacts", {}).items()
        if artifact.get("type") == "aws:cloudformation:stack"
    }
    templates = {
        name: json.loads((outdir / artifact["properties"]["templateFile"]).read_text())
        for name, artifact in stacks.items()
    }
    if stack is not None:
        if stack not in templates:
            raise SynthError(f"the app has no stack {stack!r} (it has {sorted(templates)})")
        return stack, templates[stack]
    with_apis = [
        name
        for name, body in templates.items()
        if any(r.get("Type") == "AWS::ApiGatewayV2::Api" for r in body.get("Resources", {}).values())
    ]
    if len(with_apis) != 1:
        raise SynthError(f"name the stack to serve with --stack: stacks with an API are {sorted(with_apis)}")
    return with_apis[0], templates[with_apis[0]]


def fallback_note(error: str) -> str:
    """The start's one line when the app synthesized only with :data:`FALLBACK_CONTEXT`: what stopped it, without
    the advice for deployers that follows the first clause (a fresh clone has no RDS CA bundle, and needs none)."""
    reason = error.split(";", 1)[0]
    return (
        f"template: the layer is served from its source folder, as the local stack runs it ({reason}; only"
        " `cdk deploy` needs the built layer)"
    )


def synthesize(project: Path, context: Mapping[str, Any], *, stack: str | None, progress: Progress) -> Template:
    """Run the app (:mod:`chat_local.synth`) in a child process and return its trimmed template."""
    with tempfile.TemporaryDirectory(prefix="chat-local-synth-") as scratch:
        folder = Path(scratch)
        (folder / "context.json").write_text(json.dumps(context))
        (folder / "fallback.json").write_text(json.dumps(FALLBACK_CONTEXT))
        command = [
            sys.executable,
            "-m",
            "chat_local.synth",
            "--project",
            str(project),
            "--out",
            str(folder / "cdk.out"),
            "--context",
            str(folder / "context.json"),
            "--fallback-context",
            str(folder / "fallback.json"),
        ]
        started = time.monotonic()
        env = {**os.environ, "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "1"}
        result = subprocess.run(command, capture_output=True, text=True, env=env, check=False)  # noqa: S603
        lines = result.stdout.strip().splitlines()
        try:
            report = json.loads(lines[-1]) if lines else {}
        except ValueError:
            report = {}
        if result.returncode != 0 or not report.get("ok"):
            tail = "\n".join(result.stderr.strip().splitlines()[-15:])
            raise SynthError(f"the CDK app did not synthesize: {report.get('error') or tail}")
        if report.get("fallback"):
            progress(fallback_note(str(report.get("error"))))
        name, body = _pick_stack(folder / "cdk.out", stack)
        seconds = time.monotonic() - started
        note = f", with {FALLBACK_CONTEXT}" if report.get("fallback") else ""
        return Template(trim(body), name, project, f"synthesized from {project} in {seconds:.1f} s{note}")


def load(
    project: Path,
    *,
    overrides: Mapping[str, Any] | None = None,
    stack: str | None = None,
    cache_dir: Path | None = None,
    progress: Progress = lambda _message: None,
) -> Template:
    """The template of the app in ``project``: cached, else synthesized (and cached), else the snapshot."""
    project = project.resolve()
    context = synth_context(project, overrides)
    key = cache_key(project, context)
    cache = (cache_dir or project / ".local" / "template-cache") / f"{key}.json"
    if cache.is_file():
        entry = json.loads(cache.read_text())
        if stack is None or entry["stack"] == stack:
            return Template(entry["template"], entry["stack"], project, f"cached ({cache.name}; {entry['source']})")
    progress(f"template: synthesizing the CDK app in {project} (no cached template for its inputs; 15-20 s cold)")
    try:
        template = synthesize(project, context, stack=stack, progress=progress)
    except SynthError as exc:
        if project != REPO_ROOT or overrides or not SNAPSHOT.is_file():
            raise
        return _snapshot(project, str(exc), progress)
    cache.parent.mkdir(parents=True, exist_ok=True)
    partial = cache.with_suffix(f".{os.getpid()}.part")
    partial.write_text(json.dumps({"stack": template.stack_name, "template": template.body, "source": template.source}))
    partial.replace(cache)
    _prune(cache.parent, keep=cache)
    return template


def _prune(folder: Path, *, keep: Path, entries: int = 8) -> None:
    """Keep the newest ``entries`` cached templates."""
    cached = sorted(folder.glob("*.json"), key=lambda p: p.stat().st_mtime, reverse=True)
    for old in cached[entries:]:
        if old != keep:
            old.unlink(missing_ok=True)


def _snapshot(project: Path, why: str, progress: Progress) -> Template:
    entry = json.loads(SNAPSHOT.read_text())
    stale = entry["key"] != cache_key(project, synth_context(project))
    progress(
        f"template: WARNING: {why}\ntemplate: WARNING: serving the committed snapshot {SNAPSHOT.name}"
        + (" -- it is OLDER than infra/ here: what runs may differ from what deploys" if stale else " (current)")
    )
    return Template(entry["template"], entry["stack"], project, f"the committed snapshot{' (stale)' if stale else ''}")


def snapshot_body(project: Path = REPO_ROOT, *, progress: Progress = lambda _m: None) -> dict[str, Any]:
    """What :data:`SNAPSHOT` holds for the app as it is now (synthesized, or cached)."""
    template = load(project, progress=progress)
    return {
        "key": cache_key(project, synth_context(project)),
        "stack": template.stack_name,
        "template": _portable(template.body, project),
    }


def read_template_file(path: Path, *, stack: str | None = None) -> Template:
    """A template from ``cdk synth`` (``cdk.out/<stack>.template.json``): asset paths relative to its folder."""
    body = json.loads(path.read_text())
    name = stack or path.name.removesuffix(".template.json")
    return Template(trim(body), name, path.parent.resolve(), f"the template file {path}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m chat_local.template", description="The local stack's template.")
    parser.add_argument("--write-snapshot", action="store_true", help=f"refresh {SNAPSHOT.name} from the app")
    args = parser.parse_args(argv)
    if args.write_snapshot:
        body = snapshot_body(progress=lambda message: print(message, file=sys.stderr))
        SNAPSHOT.write_text(json.dumps(body, indent=1, sort_keys=True) + "\n")
        print(f"wrote {SNAPSHOT}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
