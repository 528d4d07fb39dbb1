"""Powertools' Logger, Tracer and Metrics, built once per container when a handler module is imported.

Every function imports these three objects from here, so logs, traces and metrics share one service name
("chat") and one namespace ("Chat"); ``POWERTOOLS_*`` variables override both. Structured JSON logs go to
standard output as Lambda expects.

Tracing is off outside Lambda and wherever ``POWERTOOLS_TRACE_DISABLED`` says so (the local stack, tests,
a deployment without X-Ray). There the Tracer gets :class:`Untraced`, a provider that records nothing,
instead of Powertools' default X-Ray recorder: importing the X-Ray SDK (with wrapt and asyncio) costs about
15 ms of every cold start, for traces that would be thrown away.
"""

from __future__ import annotations

import os
import warnings
from contextlib import asynccontextmanager, contextmanager
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.shared import constants
from aws_lambda_powertools.shared.functions import resolve_truthy_env_var_choice
from aws_lambda_powertools.tracing.base import BaseProvider, BaseSegment

if TYPE_CHECKING:
    import numbers
    import traceback
    from collections.abc import AsyncIterator, Iterator, Sequence


def tracing_enabled() -> bool:
    """Powertools' rule (``Tracer._is_tracer_disabled``), with its variables and its parsing of them: on in Lambda
    (``LAMBDA_TASK_ROOT`` set, not SAM's or Chalice's emulator) unless ``POWERTOOLS_TRACE_DISABLED`` is true."""
    if resolve_truthy_env_var_choice(env=os.getenv(constants.TRACER_DISABLED_ENV, "false")):
        return False
    emulated = os.getenv(constants.SAM_LOCAL_ENV) or os.getenv(constants.CHALICE_LOCAL_ENV)
    return bool(os.getenv(constants.LAMBDA_TASK_ROOT_ENV)) and not emulated


class _Nothing(BaseSegment):
    """A subsegment that keeps nothing."""

    def close(self, end_time: int | None = None) -> None:
        """Nothing to close."""

    def add_subsegment(self, subsegment: Any) -> None:
        """Dropped."""

    def remove_subsegment(self, subsegment: Any) -> None:
        """Nothing to remove."""

    def put_annotation(self, key: str, value: str | numbers.Number | bool) -> None:
        """Dropped."""

    def put_metadata(self, key: str, value: Any, namespace: str = "default") -> None:
        """Dropped."""

    def add_exception(
        self, exception: BaseException, stack: list[traceback.StackSummary], remote: bool = False
    ) -> None:
        """Dropped: the Logger has already logged it."""


class Untraced(BaseProvider):
    """The Tracer's provider where tracing is off: every subsegment is one that keeps nothing, nothing is patched."""

    _segment = _Nothing()

    @contextmanager
    def in_subsegment(self, name: str | None = None, **kwargs: Any) -> Iterator[BaseSegment]:
        """The one segment that keeps nothing."""
        yield self._segment

    @asynccontextmanager
    async def in_subsegment_async(self, name: str | None = None, **kwargs: Any) -> AsyncIterator[BaseSegment]:
        """The one segment that keeps nothing."""
        yield self._segment

    def put_annotation(self, key: str, value: str | numbers.Number | bool) -> None:
        """Dropped."""

    def put_metadata(self, key: str, value: Any, namespace: str = "default") -> None:
        """Dropped."""

    def patch(self, modules: Sequence[str]) -> None:
        """Nothing to instrument."""

    def patch_all(self) -> None:
        """Nothing to instrument."""


logger = Logger(service="chat")
tracer = Tracer(service="chat") if tracing_enabled() else Tracer(service="chat", disabled=True, provider=Untraced())
metrics = Metrics(namespace="Chat", service="chat")

# An invocation with nothing to count (a refused connect, a 4xx) is normal here, not worth a warning.
warnings.filterwarnings("ignore", message="No application metrics to publish", category=UserWarning)

__all__ = ["Untraced", "logger", "metrics", "tracer", "tracing_enabled"]
