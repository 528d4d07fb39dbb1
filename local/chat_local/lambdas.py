"""The project's Lambda handlers, invoked as Lambda would: one invocation per container at a time.

Each container is a fresh copy of the function's ``handler.py`` module, so what a handler caches in its
module (clients, connections) is per container, as in AWS. Containers are created on demand (a cold
start) up to a limit and reused while warm.
"""

from __future__ import annotations

import asyncio
import importlib.util
import itertools
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from chat_local.events import ACCOUNT_ID

REPO_ROOT = Path(__file__).resolve().parents[2]
FUNCTIONS_DIR = REPO_ROOT / "functions"
_container_numbers = itertools.count(1)


@dataclass
class LambdaContext:
    """The attributes of Lambda's context object that handlers and Powertools read."""

    function_name: str
    memory_limit_in_mb: int = 512
    function_version: str = "$LATEST"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    timeout_seconds: float = 30.0
    _started: float = field(default_factory=time.monotonic)

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:local:{ACCOUNT_ID}:function:{self.function_name}"

    @property
    def log_group_name(self) -> str:
        return f"/aws/lambda/{self.function_name}"

    @property
    def log_stream_name(self) -> str:
        return "local"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.timeout_seconds - (time.monotonic() - self._started)) * 1000))


class _Container:
    def __init__(self, name: str, handler_file: Path) -> None:
        module_name = f"_lambda_{name}_{next(_container_numbers)}"
        spec = importlib.util.spec_from_file_location(module_name, handler_file)
        if spec is None or spec.loader is None:
            raise ImportError(f"cannot load {handler_file}")
        module: ModuleType = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module  # as a normal import would; dataclasses look themselves up here
        spec.loader.exec_module(module)
        self.name = name
        self.handler = module.handler

    def invoke(self, event: dict[str, Any]) -> Any:
        return self.handler(event, LambdaContext(function_name=self.name))


class LambdaFunction:
    """One function folder (``functions/<name>/handler.py``) with a pool of warm containers."""

    def __init__(self, name: str, executor: ThreadPoolExecutor, max_containers: int = 32) -> None:
        self.name = name
        self.handler_file = FUNCTIONS_DIR / name / "handler.py"
        if not self.handler_file.exists():
            raise FileNotFoundError(self.handler_file)
        self._executor = executor
        self._idle: list[_Container] = []
        self._slots = asyncio.Semaphore(max_containers)
        self.cold_starts = 0

    async def invoke(self, event: dict[str, Any]) -> Any:
        """Run the handler on an idle container (or a new one) in a worker thread."""
        async with self._slots:
            container = self._idle.pop() if self._idle else None
            loop = asyncio.get_running_loop()
            if container is None:
                self.cold_starts += 1
                container = await loop.run_in_executor(self._executor, _Container, self.name, self.handler_file)
            try:
                return await loop.run_in_executor(self._executor, container.invoke, event)
            finally:
                self._idle.append(container)
