"""Builds the CDK app: used by ``infra/app.py`` (the CLI entry point) and by the tests."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aws_cdk import App
from aws_cdk import aws_lambda as lambda_

from infra.chat_infra.config import ChatConfig, _bool
from infra.chat_infra.nag import add_nag_checks
from infra.chat_infra.stack import ChatStack


def build_app(
    context: Mapping[str, Any] | None = None,
    *,
    layer_code: lambda_.Code | None = None,
    outdir: str | None = None,
) -> tuple[App, ChatStack]:
    """The app with its one stack, configured from ``context`` (plus what the CLI passes), cdk-nag on.

    The stack is environment-agnostic: it deploys to whatever account and region the CLI is pointed at.
    ``-c nag=false`` skips the cdk-nag checks (never in the tests). ``layer_code`` replaces the locally
    bundled layer with a prebuilt one (tests that synthesize more than once reuse the first build).
    ``outdir`` is for tests; the CLI chooses the output folder itself (``CDK_OUTDIR``).
    """
    app = App(context=dict(context) if context is not None else None, outdir=outdir)
    config = ChatConfig.from_context(app.node)
    stack = ChatStack(app, config.stack_name, config=config, common_layer_code=layer_code)
    nag = app.node.try_get_context("nag")
    if nag is None or _bool("nag", nag):
        add_nag_checks(app)
    return app, stack
