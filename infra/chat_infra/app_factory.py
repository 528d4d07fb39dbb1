"""Builds the CDK app: used by ``infra/app.py`` (the CLI entry point) and by the tests."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aws_cdk import App

from infra.chat_infra.config import ChatConfig, _bool
from infra.chat_infra.nag import add_nag_checks
from infra.chat_infra.stack import ChatStack


def build_app(context: Mapping[str, Any] | None = None) -> tuple[App, ChatStack]:
    """The app with its one stack, configured from ``context`` (plus what the CLI passes), cdk-nag on.

    The stack is environment-agnostic: it deploys to whatever account and region the CLI is pointed at.
    ``-c nag=false`` skips the cdk-nag checks (never in the tests).
    """
    app = App(context=dict(context) if context is not None else None)
    config = ChatConfig.from_context(app.node)
    stack = ChatStack(app, config.stack_name, config=config)
    nag = app.node.try_get_context("nag")
    if nag is None or _bool("nag", nag):
        add_nag_checks(app)
    return app, stack
