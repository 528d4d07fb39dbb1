"""Builds the CDK app: used by ``infra/app.py`` (the CLI entry point) and by the tests."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aws_cdk import App
from aws_cdk import aws_lambda as lambda_

from infra.chat_infra.config import ChatConfig, ConfigError, _bool
from infra.chat_infra.nag import add_nag_checks
from infra.chat_infra.paths import LAYER_SOURCE_DIR
from infra.chat_infra.stack import ChatStack

#: ``-c layerAsset=source``: the layer's asset is its source folder as is (no wheels, no RDS CA bundle), for
#: synths that only read the template (``chat-local``, which runs the layer from its source anyway).
LAYER_ASSETS = ("bundled", "source")


def build_app(
    context: Mapping[str, Any] | None = None,
    *,
    layer_code: lambda_.Code | None = None,
    outdir: str | None = None,
) -> tuple[App, ChatStack]:
    """The app with its one stack, configured from ``context`` (plus what the CLI passes), cdk-nag on.

    The stack is environment-agnostic: it deploys to whatever account and region the CLI is pointed at.
    ``-c nag=false`` skips the cdk-nag checks (never in the tests). ``layer_code`` replaces the locally
    bundled layer with a prebuilt one (tests that synthesize more than once reuse the first build);
    ``-c layerAsset=source`` with the layer's source folder, unbundled (``chat-local``'s fallback when the
    layer cannot be prepared, e.g. RDS's CA bundle cannot be downloaded: the template is otherwise the same).
    ``outdir`` is for tests; the CLI chooses the output folder itself (``CDK_OUTDIR``).
    """
    app = App(context=dict(context) if context is not None else None, outdir=outdir)
    config = ChatConfig.from_context(app.node)
    layer_asset = str(app.node.try_get_context("layerAsset") or "bundled")
    if layer_asset not in LAYER_ASSETS:
        raise ConfigError(f"context 'layerAsset' must be one of {', '.join(LAYER_ASSETS)}, not {layer_asset!r}")
    if layer_code is None and layer_asset == "source":
        layer_code = lambda_.Code.from_asset(str(LAYER_SOURCE_DIR), exclude=["**/__pycache__", "**/*.pyc"])
    stack = ChatStack(app, config.stack_name, config=config, common_layer_code=layer_code)
    nag = app.node.try_get_context("nag")
    if nag is None or _bool("nag", nag):
        add_nag_checks(app)
    return app, stack
