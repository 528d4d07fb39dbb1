"""A TLS front for a PostgreSQL server that has no TLS (the embedded build has none), as RDS Proxy is one.

It answers PostgreSQL's SSLRequest, completes the TLS handshake with the given certificate, and relays the
decrypted protocol to the backend. A client that does not ask for TLS is disconnected: TLS is required.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import struct
import threading
from pathlib import Path

_SSL_REQUEST = 80877103
_GSSENC_REQUEST = 80877104


class TlsFront:
    """Listens on 127.0.0.1 (``port``), relaying each TLS client to ``127.0.0.1:backend_port``."""

    def __init__(self, backend_port: int, cert_file: Path, key_file: Path) -> None:
        self._backend_port = backend_port
        self._context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self._context.load_cert_chain(cert_file, key_file)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="tls-front", daemon=True)
        self._server: asyncio.Server | None = None
        self.port = 0

    def start(self) -> TlsFront:
        self._thread.start()
        self._server = asyncio.run_coroutine_threadsafe(self._listen(), self._loop).result(10)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    def stop(self) -> None:
        async def close() -> None:
            if self._server is not None:
                self._server.close()
            for task in asyncio.all_tasks():
                if task is not asyncio.current_task():
                    task.cancel()

        asyncio.run_coroutine_threadsafe(close(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    async def _listen(self) -> asyncio.Server:
        return await asyncio.start_server(self._client, "127.0.0.1", 0)

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            _length, code = struct.unpack("!ii", await reader.readexactly(8))
            if code == _GSSENC_REQUEST:  # no GSSAPI here: the client goes on to ask for TLS
                writer.write(b"N")
                _length, code = struct.unpack("!ii", await reader.readexactly(8))
            if code != _SSL_REQUEST:
                return  # a plaintext startup: refused
            writer.write(b"S")
            await writer.drain()
            await writer.start_tls(self._context)
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self._backend_port)
            try:
                await asyncio.gather(_relay(reader, up_writer), _relay(up_reader, writer))
            finally:
                up_writer.close()
        except (asyncio.IncompleteReadError, ConnectionError, ssl.SSLError):
            pass  # the client gave up, or refused our certificate: nothing to relay
        finally:
            writer.close()


async def _relay(source: asyncio.StreamReader, target: asyncio.StreamWriter) -> None:
    with contextlib.suppress(ConnectionError):
        while chunk := await source.read(65536):
            target.write(chunk)
            await target.drain()
    with contextlib.suppress(OSError, RuntimeError):
        if target.can_write_eof():
            target.write_eof()
        else:
            target.close()
