"""Lambda's execution environments, locally: a pool of warm container processes per function.

Each container is a process of its own (:mod:`chat_local.worker`) with the function's environment only, its
code folder and layers on the import path, one invocation at a time. An invocation takes the most recently
used idle container, else starts a new one (a cold start, logged with its init time) -- so concurrent
invocations run in parallel processes, on every core, and never share module state. A container idle for
``idle_timeout`` is stopped (the next invocation is cold again).

What Lambda enforces, this enforces:

* **timeout** -- the function's ``Timeout`` from the template: the container is killed at the deadline and
  the invocation fails with ``Task timed out after N.NN seconds``; the next one gets a fresh container;
* **memory** -- the function's ``MemorySize``: a container whose resident memory passes it is killed, and
  the invocation fails with ``Runtime.OutOfMemory``;
* **concurrency** -- with ``ReservedConcurrentExecutions`` set, an invocation beyond it is refused at once
  (``TooManyRequestsException``, as Lambda throttles a synchronous call); without it, at most
  ``max_containers`` run at once here (a local resource cap: further invocations wait for a container).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import os
import socket
import struct
import sys
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from chat_local.events import ACCOUNT_ID
from chat_local.spec import FunctionSpec

log = logging.getLogger("local_stack")

_LENGTH = struct.Struct(">I")
_PAGE = os.sysconf("SC_PAGE_SIZE")
#: Lambda's init phase may take this long before the first invocation's own timeout starts counting.
INIT_TIMEOUT = 10.0


@dataclass
class Invocation:
    """How one invocation went: ``result`` (the handler's return value) or ``error`` (Lambda's error payload)."""

    request_id: str
    outcome: str = "ok"
    """``ok``, ``error`` (the handler raised), ``timeout``, ``oom``, ``crashed``, ``init`` or ``throttled``."""
    result: Any = None
    error: dict[str, Any] | None = None
    cold: bool = False
    duration_ms: float = 0.0
    max_memory_mb: float = 0.0

    @property
    def ok(self) -> bool:
        return self.outcome == "ok"


class _ContainerGone(Exception):
    """The container's process ended (or was killed) during an invocation."""


@dataclass(eq=False)
class Container:
    """One execution environment: a worker process and the socket to it."""

    number: int
    process: asyncio.subprocess.Process
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    started: float = field(default_factory=time.monotonic)
    last_used: float = field(default_factory=time.monotonic)
    invocations: int = 0
    busy: bool = False
    killed_for: str | None = None
    peak_mb: float = 0.0

    def rss_mb(self) -> float:
        try:
            with open(f"/proc/{self.process.pid}/statm") as statm:
                return int(statm.read().split()[1]) * _PAGE / (1024 * 1024)
        except (OSError, ValueError, IndexError):
            return 0.0

    async def send(self, message: dict[str, Any]) -> None:
        data = json.dumps(message).encode()
        self.writer.write(_LENGTH.pack(len(data)) + data)
        await self.writer.drain()

    async def receive(self) -> dict[str, Any]:
        try:
            header = await self.reader.readexactly(_LENGTH.size)
            body = await self.reader.readexactly(_LENGTH.unpack(header)[0])
        except (asyncio.IncompleteReadError, ConnectionError) as exc:
            raise _ContainerGone from exc
        message: dict[str, Any] = json.loads(body)
        return message

    def kill(self, reason: str) -> None:
        self.killed_for = self.killed_for or reason
        with contextlib.suppress(ProcessLookupError):
            self.process.kill()

    async def stop(self, grace: float = 2.0) -> None:
        self.writer.close()  # EOF: the worker's loop ends
        try:
            await asyncio.wait_for(self.process.wait(), grace)
        except TimeoutError:
            self.kill("stopped")
            await self.process.wait()


class Throttled(Exception):
    """The function is at its reserved concurrency."""


class FunctionPool:
    """The warm containers of one function."""

    def __init__(
        self,
        spec: FunctionSpec,
        environment: dict[str, str],
        *,
        max_containers: int = 8,
        idle_timeout: float = 600.0,
    ) -> None:
        self.spec = spec
        self.environment = environment
        self.idle_timeout = idle_timeout
        self.reserved = spec.reserved_concurrency
        self.limit = self.reserved if self.reserved is not None else max_containers
        self._slots = asyncio.Semaphore(self.limit)
        self._idle: list[Container] = []
        self._busy: set[Container] = set()
        self._active = 0
        self._numbers = itertools.count(1)
        self._closed = False
        self.cold_starts = 0
        self.invocations = 0

    @property
    def containers(self) -> list[Container]:
        return [*self._idle, *self._busy]

    # ------------------------------------------------------------ containers

    def _runtime_environment(self, number: int) -> dict[str, str]:
        spec = self.spec
        day = datetime.now(UTC).strftime("%Y/%m/%d")
        return {
            "PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
            "LANG": "C.UTF-8",
            "TZ": ":UTC",
            "LAMBDA_TASK_ROOT": spec.code_dir,
            "_HANDLER": spec.handler,
            "AWS_EXECUTION_ENV": f"AWS_Lambda_{spec.runtime}",
            "AWS_LAMBDA_FUNCTION_NAME": spec.function_name,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_mb),
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{spec.function_name}",
            "AWS_LAMBDA_LOG_STREAM_NAME": f"{day}/[$LATEST]{uuid.uuid4().hex}",
            # No shared ~/.aws of this machine: a function sees only its own environment, as in Lambda.
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "CHAT_LOCAL_ACCOUNT_ID": ACCOUNT_ID,
            "CHAT_LOCAL_CONTAINER": str(number),
        }

    async def _start(self) -> tuple[Container, float]:
        number = next(self._numbers)
        parent, child = socket.socketpair()
        layers = [arg for layer in self.spec.layers for arg in ("--layer", layer)]
        command = [sys.executable, "-I", "-u", "-m", "chat_local.worker", "--fd", str(child.fileno())]
        command += ["--handler", self.spec.handler, "--code-dir", self.spec.code_dir, *layers]
        try:
            process = await asyncio.create_subprocess_exec(
                *command,
                env={**self._runtime_environment(number), **self.environment},
                pass_fds=(child.fileno(),),
                stdin=asyncio.subprocess.DEVNULL,
            )
        finally:
            child.close()
        reader, writer = await asyncio.open_unix_connection(sock=parent)
        container = Container(number=number, process=process, reader=reader, writer=writer)
        try:
            ready = await asyncio.wait_for(container.receive(), INIT_TIMEOUT + self.spec.timeout)
        except (TimeoutError, _ContainerGone, asyncio.CancelledError):
            container.kill("init")
            await container.process.wait()
            raise
        if "error" in ready:
            await container.process.wait()
            raise InitError(ready["error"])
        return container, float(ready["ready"])

    # ------------------------------------------------------------ invoking

    async def invoke(self, event: dict[str, Any]) -> Invocation:
        """Run ``event`` on a warm container or a new one; never raises for the function's own failures."""
        request_id = str(uuid.uuid4())
        if self.reserved is not None and self._active >= self.reserved:
            return Invocation(
                request_id,
                outcome="throttled",
                error={"errorType": "TooManyRequestsException", "errorMessage": "Rate Exceeded."},
            )
        async with self._slots:
            self._active += 1
            try:
                return await self._invoke(event, request_id)
            finally:
                self._active -= 1

    async def _invoke(self, event: dict[str, Any], request_id: str) -> Invocation:
        invocation = Invocation(request_id)
        container = self._idle.pop() if self._idle else None
        if container is None:
            invocation.cold = True
            self.cold_starts += 1
            try:
                container, init_ms = await self._start()
            except InitError as exc:
                log.error("init failed %s: %s", self.spec.label, exc.error.get("errorMessage"))
                invocation.outcome, invocation.error = "init", exc.error
                return invocation
            except (TimeoutError, _ContainerGone):
                invocation.outcome = "init"
                invocation.error = {"errorType": "Runtime.ExitError", "errorMessage": "init did not finish"}
                return invocation
            log.info(
                "cold start %-10s container %d, pid %d (init %d ms)",
                self.spec.label,
                container.number,
                container.process.pid,
                init_ms,
            )
        self.invocations += 1
        container.busy = True
        container.invocations += 1
        self._busy.add(container)
        started = time.monotonic()
        deadline_ms = int(time.time() * 1000 + self.spec.timeout * 1000)
        try:
            await container.send({"event": event, "requestId": request_id, "deadlineMs": deadline_ms})
            reply = await asyncio.wait_for(container.receive(), self.spec.timeout)
        except TimeoutError:
            container.kill("timeout")
            invocation.outcome = "timeout"
            stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
            message = f"{stamp} {request_id} Task timed out after {self.spec.timeout:.2f} seconds"
            invocation.error = {"errorMessage": message}
        except (_ContainerGone, ConnectionError):
            await container.process.wait()
            if container.killed_for == "oom":
                invocation.outcome = "oom"
                invocation.error = {
                    "errorType": "Runtime.OutOfMemory",
                    "errorMessage": f"RequestId: {request_id} Error: Runtime exited with error: signal: killed",
                }
            else:
                invocation.outcome = "crashed"
                invocation.error = {
                    "errorType": "Runtime.ExitError",
                    "errorMessage": f"RequestId: {request_id} Error: Runtime exited with error: exit status "
                    f"{container.process.returncode}",
                }
        except asyncio.CancelledError:
            container.kill("cancelled")
            raise
        else:
            if "error" in reply:
                invocation.outcome, invocation.error = "error", reply["error"]
            else:
                invocation.result = reply.get("result")
        finally:
            self._busy.discard(container)
            container.busy = False
            invocation.duration_ms = (time.monotonic() - started) * 1000
            container.peak_mb = max(container.peak_mb, container.rss_mb())
            invocation.max_memory_mb = container.peak_mb
            container.last_used = time.monotonic()
            if container.killed_for is None and container.process.returncode is None and not self._closed:
                self._idle.append(container)
            else:
                with contextlib.suppress(ProcessLookupError):
                    container.process.kill()
        if invocation.outcome in ("timeout", "oom", "crashed"):
            log.warning(
                "%s %-10s container %d: %s",
                invocation.outcome,
                self.spec.label,
                container.number,
                (invocation.error or {}).get("errorMessage"),
            )
        log.debug(
            "REPORT %s RequestId: %s Duration: %.2f ms Memory Size: %d MB Max Memory Used: %d MB",
            self.spec.label,
            request_id,
            invocation.duration_ms,
            self.spec.memory_mb,
            invocation.max_memory_mb,
        )
        return invocation

    # ------------------------------------------------------------ housekeeping

    def watch(self, now: float) -> None:
        """Kill busy containers over their memory; stop idle ones past the idle timeout (called periodically)."""
        for container in list(self._busy):
            rss = container.rss_mb()
            container.peak_mb = max(container.peak_mb, rss)
            if rss > self.spec.memory_mb:
                container.kill("oom")
        for container in list(self._idle):
            if now - container.last_used >= self.idle_timeout:
                self._idle.remove(container)
                idle = now - container.last_used
                log.info("recycled   %-10s container %d (idle %.0f s)", self.spec.label, container.number, idle)
                asyncio.get_running_loop().create_task(container.stop())

    async def close(self) -> None:
        self._closed = True
        containers, self._idle = [*self._idle, *self._busy], []
        await asyncio.gather(*(c.stop() for c in containers), return_exceptions=True)


class InitError(Exception):
    """The handler could not be imported (Lambda's ``Runtime.ImportModuleError`` and the like)."""

    def __init__(self, error: dict[str, Any]) -> None:
        super().__init__(error.get("errorMessage"))
        self.error = error


class Functions:
    """Every function's pool, and the watchdog that enforces memory and recycles idle containers."""

    def __init__(self, pools: dict[str, FunctionPool], *, interval: float = 0.1) -> None:
        self.pools = pools
        self._interval = interval
        self._watchdog: asyncio.Task[None] | None = None

    def __getitem__(self, label: str) -> FunctionPool:
        return self.pools[label]

    def __contains__(self, label: object) -> bool:
        return label in self.pools

    def start(self) -> None:
        self._watchdog = asyncio.get_running_loop().create_task(self._watch())

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            now = time.monotonic()
            for pool in self.pools.values():
                pool.watch(now)

    async def close(self) -> None:
        if self._watchdog is not None:
            self._watchdog.cancel()
        await asyncio.gather(*(pool.close() for pool in self.pools.values()), return_exceptions=True)
