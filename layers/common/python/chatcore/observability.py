"""Logger, Tracer and Metrics for every function, from one place, built on first use.

Importing Powertools' Tracer loads the X-Ray SDK and botocore, and its Logger and Metrics cost more
than a handler's own code, so this module imports none of them: ``logger``, ``tracer`` and ``metrics``
stand in for the Powertools objects and build them the first time anything is asked of them. Their
handler decorators (``inject_lambda_context``, ``capture_lambda_handler``, ``log_metrics``) wrap the
handler at import time without building anything; the real decorator is applied on the first call.
Powertools reads its settings (service name, log level, namespace) from ``POWERTOOLS_*`` variables at
that moment, so importing this module does no I/O and reads no configuration. When tracing is off,
``tracer`` never imports the X-Ray SDK at all.
"""

from __future__ import annotations

import functools
import os
import sys
import threading
from collections.abc import Callable, Mapping
from typing import IO, TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from aws_lambda_powertools import Logger, Metrics, Tracer

Handler = Callable[..., Any]


class _Deferred:
    """A Powertools object built by ``factory`` on first use; every attribute is the built object's."""

    def __init__(self, factory: Callable[[], Any]) -> None:
        self._factory = factory
        self._target: Any = None
        self._lock = threading.Lock()

    def _built(self) -> Any:
        target = self._target
        if target is None:
            with self._lock:
                if self._target is None:
                    self._target = self._factory()
                target = self._target
        return target

    def __getattr__(self, name: str) -> Any:
        return getattr(self._built(), name)

    def _defer(self, decorator: str, handler: Handler, **options: Any) -> Handler:
        """``handler`` wrapped so that the real ``decorator`` is built and applied on its first call."""
        decorated: Handler | None = None

        @functools.wraps(handler)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            nonlocal decorated
            if decorated is None:
                decorated = getattr(self._built(), decorator)(handler, **options)
            return decorated(*args, **kwargs)

        return wrapper

    def _decorator(self, decorator: str, handler: Handler | None, options: dict[str, Any]) -> Any:
        """Support both ``@obj.decorator`` and ``@obj.decorator(option=...)``."""
        if handler is None:
            return functools.partial(self._defer, decorator, **options)
        return self._defer(decorator, handler, **options)


class _DeferredLogger(_Deferred):
    def inject_lambda_context(self, lambda_handler: Handler | None = None, **options: Any) -> Any:
        return self._decorator("inject_lambda_context", lambda_handler, options)


class _DeferredTracer(_Deferred):
    def capture_lambda_handler(self, lambda_handler: Handler | None = None, **options: Any) -> Any:
        return self._decorator("capture_lambda_handler", lambda_handler, options)


class _DeferredMetrics(_Deferred):
    def log_metrics(self, lambda_handler: Handler | None = None, **options: Any) -> Any:
        return self._decorator("log_metrics", lambda_handler, options)


class _StandardOutput:
    """Writes to whatever ``sys.stdout`` is when a record is written, not when the logger was built.

    Built on first use, the logger would otherwise keep a stream that was only temporarily
    ``sys.stdout`` (a test's captured output); in Lambda it is always the same one.
    """

    def write(self, text: str) -> int:
        return sys.stdout.write(text)

    def flush(self) -> None:
        sys.stdout.flush()


def _logger() -> Logger:
    from aws_lambda_powertools import Logger

    return Logger(service="chat", stream=cast("IO[str]", _StandardOutput()))


class _TracingOff:
    """What Powertools' Tracer does when tracing is off (nothing), without importing the X-Ray SDK.

    Powertools' Tracer imports the X-Ray SDK (and botocore) even when disabled; locally and in tests,
    where it always is, that was the biggest part of a cold start.
    """

    def capture_lambda_handler(self, lambda_handler: Handler | None = None, **_options: Any) -> Any:
        return lambda_handler if lambda_handler is not None else _unchanged

    def capture_method(self, method: Handler | None = None, **_options: Any) -> Any:
        return method if method is not None else _unchanged

    def put_annotation(self, key: str, value: Any) -> None:
        pass

    def put_metadata(self, key: str, value: Any, namespace: str | None = None) -> None:
        pass

    def patch(self, modules: Any = None) -> None:
        pass


def _unchanged(function: Handler) -> Handler:
    return function


def tracing_disabled(environ: Mapping[str, str] | None = None) -> bool:
    """Powertools' rule: ``POWERTOOLS_TRACE_DISABLED``, or not in Lambda (no X-Ray daemon), or SAM/Chalice local."""
    env = os.environ if environ is None else environ
    if env.get("POWERTOOLS_TRACE_DISABLED", "false").strip().lower() in {"1", "true", "yes", "on", "y", "t"}:
        return True
    return not env.get("LAMBDA_TASK_ROOT") or bool(env.get("AWS_SAM_LOCAL") or env.get("AWS_CHALICE_CLI_MODE"))


def _tracer() -> Tracer | _TracingOff:
    if tracing_disabled():
        return _TracingOff()
    from aws_lambda_powertools import Tracer

    return Tracer(service="chat")


def _metrics() -> Metrics:
    import warnings

    from aws_lambda_powertools import Metrics

    # An invocation with nothing to count (a refused connect, a 4xx) is normal here, not worth a warning.
    warnings.filterwarnings("ignore", message="No application metrics to publish", category=UserWarning)
    return Metrics(namespace="Chat", service="chat")


# Typed as the Powertools classes: callers use their documented API, resolved on first use.
logger = cast("Logger", _DeferredLogger(_logger))
tracer = cast("Tracer", _DeferredTracer(_tracer))
metrics = cast("Metrics", _DeferredMetrics(_metrics))

__all__ = ["logger", "metrics", "tracer"]
