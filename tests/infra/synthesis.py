"""Synthesizing the app for the tests, and what a synthesized app looks like to them."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aws_cdk import App
from aws_cdk import aws_lambda as lambda_
from aws_cdk.assertions import Template

from infra.chat_infra.app_factory import build_app
from infra.chat_infra.nag import NAG_PREFIX
from infra.chat_infra.paths import REPO_ROOT
from infra.chat_infra.stack import ChatStack

#: Context on top of cdk.json's: one extra web origin, so the CORS and ALLOWED_ORIGINS checks see two.
EXTRA_ORIGIN = "https://chat.example.com"
TEST_CONTEXT = {"allowedOrigins": EXTRA_ORIGIN}
#: The second variant: no NAT gateway, no deletion protection, Multi-AZ, another stage name, concurrency
#: reserved for the database functions, no CloudFront logging (as in an opt-in region).
VARIANT_CONTEXT = {
    "natGateway": "false",
    "deletionProtection": "false",
    "dbMultiAz": "true",
    "stage": "staging",
    "reservedConcurrencyConnect": "5",
    "reservedConcurrencyMessage": "20",
    "reservedConcurrencyRest": "10",
    "cloudFrontLogging": "false",
}


@dataclass(frozen=True)
class Synth:
    """One synthesized app."""

    app: App
    stack: ChatStack
    outdir: Path
    template: dict[str, Any]

    @property
    def resources(self) -> dict[str, dict[str, Any]]:
        resources: dict[str, dict[str, Any]] = self.template["Resources"]
        return resources

    def assertions(self) -> Template:
        return Template.from_json(self.template)

    def logical_id(self, construct: Any) -> str:
        """The CloudFormation logical id of ``construct`` (an L2 or its default child)."""
        child = construct.node.default_child or construct
        return self.stack.get_logical_id(child)

    def function_id(self, folder: str) -> str:
        return self.logical_id(self.stack.functions[folder].function)


def cdk_json_context() -> dict[str, Any]:
    """The context cdk.json gives the CLI (feature flags and defaults), so tests synthesize the same app."""
    context: dict[str, Any] = json.loads((REPO_ROOT / "cdk.json").read_text())["context"]
    return context


def synthesize(context: dict[str, Any], outdir: Path, *, layer_code: lambda_.Code | None = None) -> Synth:
    app, stack = build_app({**cdk_json_context(), **context}, layer_code=layer_code, outdir=str(outdir))
    assembly = app.synth()
    template = assembly.get_stack_by_name(stack.stack_name).template
    return Synth(app=app, stack=stack, outdir=outdir, template=template)


def layer_asset_dir(synth: Synth) -> Path:
    """The bundled layer folder of ``synth``'s cloud assembly."""
    layer_id = synth.logical_id(synth.stack.layer)
    asset_hash = synth.resources[layer_id]["Properties"]["Content"]["S3Key"].removesuffix(".zip")
    manifest = json.loads((synth.outdir / f"{synth.stack.artifact_id}.assets.json").read_text())
    return synth.outdir / str(manifest["files"][asset_hash]["source"]["path"])


@dataclass(frozen=True)
class Acknowledged:
    """One acknowledgment: where it was made, of which finding, and why."""

    path: str
    rule: str
    reason: str


def recorded_acknowledgments(synth: Synth) -> list[Acknowledged]:
    """The cdk-nag acknowledgments in the stack's metadata (CDK's own, for its validation, left out)."""
    metadata = json.loads((synth.outdir / f"{synth.stack.artifact_id}.metadata.json").read_text())
    return [
        Acknowledged(path=path.lstrip("/"), rule=rule, reason=reason)
        for path, entries in metadata.items()
        for entry in entries
        if entry["type"] == "aws:cdk:acknowledged-rules"
        for rule, reason in entry["data"].items()
        if rule.startswith(NAG_PREFIX)
    ]


def nag_plugin_report(synth: Synth) -> dict[str, Any]:
    """The AwsSolutions plugin's part of the synth's validation report."""
    report = json.loads((synth.outdir / "validation-report.json").read_text())
    (plugin,) = [p for p in report["pluginReports"] if p["pluginName"] == "AwsSolutions"]
    return plugin  # type: ignore[no-any-return]
