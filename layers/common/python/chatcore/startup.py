"""No cyclic garbage collection while a Lambda container starts; what it built is frozen once it has.

A cold start creates a few hundred thousand objects that live as long as the container (modules, classes,
pydantic's validators, boto3's service models) and almost no garbage, yet CPython's collector walks every
one of them each time the heap grows by a quarter: about 35 ms of init + first invocation in the cold-start
benchmark, where holding it cut init + first by about 40 ms (``bench/README.md``). So importing this
module, first thing in every handler module, turns the collector off when the process is a Lambda
container (``AWS_LAMBDA_FUNCTION_NAME`` set: Lambda, the local stack's containers, the cold-start
benchmark), and :func:`collect_after_first` turns it back on when the first invocation ends, after
``gc.freeze()`` has moved every object then alive to the permanent generation, so the collections of warm
invocations do not walk them either.

What it costs: the cycles the first invocation makes are not collected until it ends, and objects alive at
that moment that later become garbage in a cycle stay in memory (a bounded one-off; reference counting still
frees everything else at once). Anywhere else (tests, tools importing a handler module) nothing changes.

In a container it also turns pydantic's plugin discovery off (``PYDANTIC_DISABLE_PLUGINS``), unless the
function's environment says otherwise.
"""

from __future__ import annotations

import gc
import os
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

_Handler = TypeVar("_Handler", bound=Callable[..., Any])

_container = "AWS_LAMBDA_FUNCTION_NAME" in os.environ
_held = _container and gc.isenabled()
if _held:
    gc.disable()
if _container:
    # pydantic looks for plugins (every distribution's ``pydantic`` entry points) when it builds its first
    # validator: about 2 ms of a cold start reading the layer's metadata, for plugins the functions do not use.
    # A value set for the function (an empty one enables them all) is kept.
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")


def holding() -> bool:
    """Whether collection is off because this container has not finished its first invocation."""
    return _held


def resume() -> None:
    """Freeze what is alive and collect again; only the first call does anything."""
    global _held
    if _held:
        _held = False
        gc.freeze()
        gc.enable()


def collect_after_first(handler: _Handler) -> _Handler:
    """``handler``, resuming collection when its first invocation ends (returned or raised)."""

    @wraps(handler)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return handler(*args, **kwargs)
        finally:
            resume()

    return run  # type: ignore[return-value]
