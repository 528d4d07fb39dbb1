"""One warm Lambda container: ``python -I -m chat_local.worker``, a process of its own per execution environment.

Started by :mod:`chat_local.pool` with the function's environment only (as Lambda gives it: the template's
variables mapped to the stand-ins, and the runtime's own). It imports the handler (the *init* phase: a cold
start), says so, then runs one invocation at a time for as long as the pool keeps it: the module state a
handler keeps (clients, connections, Powertools' resolver and its current event) is this process's alone,
as in a Lambda execution environment.

The protocol, over the socket whose descriptor is ``--fd``: each message is a 4-byte big-endian length and a
JSON object. The worker first sends ``{"ready": init_ms}`` (or ``{"error": ...}`` if the init failed, and
exits); then for each ``{"event", "requestId", "deadlineMs"}`` it answers ``{"result": ...}`` or ``{"error":
{"errorMessage", "errorType", "stackTrace"}}``, Lambda's error shape. The handler's prints and logs go to
the inherited stdout and stderr, like a function's to CloudWatch. This module imports only the standard
library, so what a cold start costs is the function's own imports.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import importlib
import json
import os
import signal
import socket
import struct
import sys
import time
import traceback
from typing import Any

_LENGTH = struct.Struct(">I")


def send(sock: socket.socket, message: dict[str, Any]) -> None:
    data = json.dumps(message).encode()
    sock.sendall(_LENGTH.pack(len(data)) + data)


def receive(sock: socket.socket) -> dict[str, Any] | None:
    header = _read_exactly(sock, _LENGTH.size)
    if header is None:
        return None
    body = _read_exactly(sock, _LENGTH.unpack(header)[0])
    if body is None:
        return None
    message: dict[str, Any] = json.loads(body)
    return message


def _read_exactly(sock: socket.socket, size: int) -> bytes | None:
    chunks, remaining = [], size
    while remaining:
        chunk = sock.recv(min(remaining, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


class LambdaContext:
    """The attributes and method of Lambda's Python context object."""

    def __init__(self, request_id: str, deadline_ms: int) -> None:
        self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "")
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        self.memory_limit_in_mb = int(os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128"))
        self.invoked_function_arn = (
            f"arn:aws:lambda:{os.environ.get('AWS_REGION', 'us-east-1')}:"
            f"{os.environ.get('CHAT_LOCAL_ACCOUNT_ID', '000000000000')}:function:{self.function_name}"
        )
        self.aws_request_id = request_id
        self.log_group_name = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME", "")
        self.log_stream_name = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME", "")
        self.identity = None
        self.client_context = None
        self._deadline_ms = deadline_ms

    def get_remaining_time_in_millis(self) -> int:
        return max(0, self._deadline_ms - int(time.time() * 1000))


def _error(exc: BaseException) -> dict[str, Any]:
    return {
        "errorMessage": str(exc),
        "errorType": type(exc).__name__,
        "stackTrace": traceback.format_tb(exc.__traceback__),
    }


def _die_with_parent() -> None:
    """SIGKILL when the gateway dies without stopping this container (Linux; see chat_local.processes)."""
    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m chat_local.worker")
    parser.add_argument("--fd", type=int, required=True)
    parser.add_argument("--handler", required=True)
    parser.add_argument("--code-dir", required=True)
    parser.add_argument("--layer", action="append", default=[])
    args = parser.parse_args(argv)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole group: the gateway stops us itself
    parent = os.getppid()
    _die_with_parent()
    if os.getppid() != parent:  # the gateway died before the signal was armed
        return 1
    sock = socket.socket(fileno=args.fd)
    # Lambda's import path: the function's code (/var/task, also the working folder), then each layer's python/.
    sys.path[:0] = [args.code_dir, *(os.path.join(layer, "python") for layer in args.layer)]
    os.chdir(args.code_dir)
    module_name, _, function_name = args.handler.rpartition(".")
    started = time.monotonic()
    try:
        module = importlib.import_module(module_name.replace("/", "."))
        handler = getattr(module, function_name)
    except Exception as exc:
        traceback.print_exc()
        kinds: dict[type[BaseException], str] = {
            ImportError: "Runtime.ImportModuleError",
            AttributeError: "Runtime.HandlerNotFound",
        }
        kind = next((name for base, name in kinds.items() if isinstance(exc, base)), type(exc).__name__)
        send(sock, {"error": {**_error(exc), "errorType": kind}})
        return 1
    send(sock, {"ready": round((time.monotonic() - started) * 1000, 1)})
    while (request := receive(sock)) is not None:
        context = LambdaContext(request["requestId"], int(request["deadlineMs"]))
        try:
            result = handler(request["event"], context)
        except Exception as exc:
            print(f"[ERROR] {type(exc).__name__}: {exc}", file=sys.stderr)
            traceback.print_exc()
            send(sock, {"error": _error(exc)})
            continue
        try:
            send(sock, {"result": result})
        except (TypeError, ValueError) as exc:  # what json.dumps refuses, Lambda refuses too
            error = {"errorMessage": f"Unable to marshal response: {exc}", "errorType": "Runtime.MarshalError"}
            send(sock, {"error": error})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
