"""Benchmark 3, cold start: what the first user of a fresh Lambda container waits for.

For each of the ``connect``, ``message``, ``disconnect`` and ``rest`` functions, and for a baseline handler
of each written the way the AWS samples write them (``bench/baseline_handlers/``), a fresh interpreter
(one child process per run, ``bench/coldstart_child.py``) loads the function as Lambda does (the layer,
then the function's folder on ``sys.path``; ``import handler``) and invokes it 16 times with real
events against the local stand-ins: a moto server (DynamoDB, S3, Secrets Manager), an embedded PostgreSQL
with the migrations behind a TLS front standing in for RDS Proxy, and a Management API endpoint in this
process that answers every ``/@connections/{id}`` with 200. Both sides are configured as the CDK app
configures ours: the database's ``chat_app`` secret (and, for ours, the token signing key) is read from
Secrets Manager, and the connection is TLS with the certificate verified and a SCRAM password login.
Measured, in the child: the import (Lambda's init phase), the first invocation doing real work, their sum,
a warm invocation (the mean of the second and third) and a steady one (the 13th to 16th); each split
into phases (imports, pydantic models, boto3 clients, secrets and the database connection, the work itself).

The events are API Gateway's (``tests/events/*.json``, with fresh ids): ``$connect`` with a valid token
of a user in two rooms (16 users, each connecting alone, so each is announced online to the two
listening contacts), a ``message`` frame to a room of three connections, ``$disconnect`` of a registered
connection (its user goes offline), and ``GET /conversations`` with a bearer token. What a child needs
beforehand (registered connections) is done here, in the parent, before it starts; what it leaves behind
is checked (the connection registered or gone, the messages stored) and cleaned up after it.

Runs are interleaved round-robin across the functions, ours and the baseline (and a bare interpreter),
after one unmeasured warm-up round, so drift in the machine's load hits every side alike; medians are
reported. The full run also measures, in the same rounds, what AWS adds: ours with X-Ray tracing on, and
both sides with their packages compiled from source on every import (what a package without ``.pyc`` files
costs, Lambda's file system being read-only: the CDK app compiles the layer's with the runtime's Python when
the deploying machine has one, and says so when it has not). ``--quick``: 3 rounds, no
warm-up, ours and the baseline only. The children import only what Lambda could: the standard library, the
layer's locked dependencies and the runtime's boto3. The full run gives them exactly that: it builds the
layers for Lambda first (ours as the CDK app does, the baselines' psycopg and the runtime's boto3 for CPython
3.12) and runs the children on the Python 3.12 that compiled ours, with ``-S`` (:func:`lambda_interpreter`).
``--quick``, or a machine that cannot build them, runs this environment's Python against the layer's sources
and the installed packages, hiding what Lambda would not have (such as ``cryptography``, which PyJWT imports
whenever it is present) (:func:`local_interpreter`).

Also reported: the deployment packages Lambda downloads on a cold start (each function's zip, the layer),
for ours and the baselines.
"""

from __future__ import annotations

import base64
import copy
import json
import os
import secrets
import socket
import subprocess
import sys
import sysconfig
import threading
import time
import uuid
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench.common import LOCAL_AWS_ENV, REPO_ROOT, Section, Target, fmt, md_table, median, progress

if TYPE_CHECKING:
    from chat_local.postgres import EmbeddedPostgres
    from chatcore.aws.registry import ConnectionRegistry
    from chatcore.postgres.store import ChatStore
    from chatcore.rows import UserRow
    from chatcore.service.gate import ConnectionGate
    from chatcore.tokens import TokenService


FUNCTIONS = ("connect", "message", "disconnect", "rest")
VARIANTS = ("ours", "baseline")
#: Measured in the full run only: what they add in AWS, where the functions trace with X-Ray, and what a layer
#: built without ``.pyc`` files costs (a deploy from a machine without the runtime's Python).
EXTRA_VARIANTS = ("ours-traced", "ours-nopyc", "baseline-nopyc")
VARIANT_LABELS = {
    "ours": "ours",
    "baseline": "baseline",
    "ours-traced": "ours, X-Ray tracing on",
    "ours-nopyc": "ours, no .pyc",
    "baseline-nopyc": "baseline, no .pyc",
}
#: What each variant is compared with.
VERSUS = {"ours": "baseline", "ours-traced": "baseline", "ours-nopyc": "baseline-nopyc"}
#: Tracing as Lambda runs it with active tracing (the trace header of the invocation, the daemon's address).
TRACED_ENV = {
    "POWERTOOLS_TRACE_DISABLED": "false",
    "_X_AMZN_TRACE_ID": "Root=1-65c6766f-5c4b2a5b1e0b1d2f3a4b5c6d;Parent=53995c3f42cd8ad8;Sampled=1",
    "AWS_XRAY_DAEMON_ADDRESS": "127.0.0.1:2000",
    "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
}
#: The first invocation of a fresh container, then warm ones: *warm* is the second and third, *steady* the
#: 13th to the last, once the baselines' SQL runs on cached plans: psycopg prepares a query on its sixth run
#: (the baselines keep that default), and PostgreSQL plans a prepared statement for its parameters on its
#: first five executions before it caches a generic plan, so from the 12th invocation. Ours never prepares
#: (RDS Proxy would pin the session) and caches plans in PL/pgSQL functions instead. Steady is what most
#: invocations of a long-lived container see.
INVOCATIONS = 16
WARM = slice(1, 3)
STEADY = slice(12, INVOCATIONS)
TARGET_COLD = 1.25
#: The packages of the libraries the project chose (pydantic with its own dependencies, Powertools) that the
#: baselines do not load: their imports alone are a floor under ours' cold start.
CHOSEN_LIBRARIES = ("pydantic", "pydantic_core", "annotated_types", "typing_inspection", "aws_lambda_powertools")
TARGET_WARM = 1.1
#: The phases of the child's breakdown, in the order of the stacked bars.
PHASES = ("import", "gc", "models", "clients", "database", "work")
PHASE_LABELS = {
    "import": "imports",
    "gc": "garbage collection",
    "models": "validation models (pydantic)",
    "clients": "boto3 clients",
    "database": "secrets & database connection",
    "work": "the work itself",
}

CHILD = REPO_ROOT / "bench" / "coldstart_child.py"
BASELINE_DIR = REPO_ROOT / "bench" / "baseline_handlers"
FUNCTIONS_DIR = REPO_ROOT / "functions"
LAYER_DIR = REPO_ROOT / "layers" / "common" / "python"
EVENTS_DIR = REPO_ROOT / "tests" / "events"
TABLE = "bench-registry"
BUCKET = "bench-attachments"
#: The ``Origin`` header of ``tests/events/ws_connect.json``, allowed as the CDK app allows the site's.
ORIGIN = "https://chat.example.com"
#: Provided by the Lambda Python runtime (``infra.chat_infra.layer.RUNTIME_PROVIDED``), so importable there.
RUNTIME_PROVIDED = ("boto3", "botocore", "s3transfer", "jmespath", "urllib3", "python-dateutil", "six")
#: What the baseline handlers ship besides the runtime's boto3 (psycopg, as ours, for PostgreSQL).
BASELINE_DEPENDENCIES = ("psycopg", "psycopg-binary", "typing-extensions")


def _connection_id() -> str:
    """An id in API Gateway's style (``L0SM9cOFvHcCIhw=``), URL-safe."""
    return base64.urlsafe_b64encode(os.urandom(10)).decode()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# ---------------------------------------------------------------- the stand-ins


@contextmanager
def moto_server(log_path: Path) -> Iterator[str]:
    """``python -m moto.server`` (DynamoDB and S3 on one port) as a child process; its URL."""
    port = _free_port()
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"moto server did not start:\n{log_path.read_text()[-2000:]}") from None
                time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


class ManagementStub:
    """A Management API endpoint that answers every ``/@connections/{id}`` with 200 and checks nothing.

    It counts the requests, so each child's posts are known (ours posts through ``http.client``, not botocore).
    """

    def __init__(self) -> None:
        self.requests = 0
        self._lock = threading.Lock()
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _answer(self) -> None:
                self.rfile.read(int(self.headers.get("content-length") or 0))
                found = self.path.startswith("/@connections/")
                body = b'{"connectedAt":"2026-01-01T00:00:00Z","identity":{"sourceIp":"127.0.0.1"}}'
                body = body if found and self.command == "GET" else b""
                with stub._lock:
                    stub.requests += found
                self.send_response(200 if found else 404)
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_POST = do_GET = do_DELETE = _answer

            def log_message(self, *_args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> ManagementStub:
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


@dataclass(frozen=True)
class PostgresStandIn:
    """The benchmark's PostgreSQL: the master user's URL (the parent's), and what the functions get in AWS."""

    url: str
    #: The ``chat_app`` secret as RDS keeps it (``username``, ``password``, ``host``, ``port``, ``dbname``).
    app_secret: dict[str, Any]
    #: The CA that signed the server's certificate (``DATABASE_CA_BUNDLE``).
    ca_bundle: Path


#: ``pg_hba.conf``'s first line: ``chat_app`` logs in with its password (SCRAM), as to RDS Proxy; everyone else
#: keeps the embedded server's ``trust``.
APP_ROLE_HBA = "host chat chat_app 127.0.0.1/32 scram-sha-256\n"


def _require_password(server: EmbeddedPostgres, url: str, app_url: str) -> None:
    """Put :data:`APP_ROLE_HBA` first in ``pg_hba.conf`` and reload; returns once ``chat_app`` is refused without
    its password."""
    import psycopg

    hba = server.data_dir / "pg_hba.conf"
    hba.write_text(APP_ROLE_HBA + hba.read_text())
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SELECT pg_reload_conf()")
    deadline = time.monotonic() + 10
    while True:  # the postmaster rereads the file after the signal
        try:
            psycopg.connect(app_url, connect_timeout=5).close()
        except psycopg.OperationalError:
            return
        if time.monotonic() > deadline:
            raise RuntimeError("PostgreSQL did not reload pg_hba.conf")
        time.sleep(0.05)


@contextmanager
def postgres(data_dir: Path) -> Iterator[PostgresStandIn]:
    """An embedded PostgreSQL (``chat_local.postgres``) with the project's migrations, behind the tests' TLS front
    (``tests/infra/tls_front.py``) as behind RDS Proxy, where ``chat_app`` (the functions' DML-only role) logs in
    with its password; the front's certificate, for ``localhost``, is signed by a CA made for the run."""
    from chat_local.postgres import EmbeddedPostgres
    from chatcore.composition import APP_ROLE, set_app_role_password
    from chatcore.postgres.migrate import apply_migrations

    from tests.infra.certificates import issue_server_certificate, make_authority, write_bundle
    from tests.infra.tls_front import TlsFront

    folder = data_dir.parent / "tls"
    folder.mkdir(parents=True, exist_ok=True)
    authority = make_authority("chat bench database CA")
    certificate, key = issue_server_certificate(authority, "localhost", folder)
    server = EmbeddedPostgres(data_dir, database="chat", durable=False)
    url = server.start()
    try:
        apply_migrations(url)
        password = secrets.token_urlsafe(24)
        set_app_role_password(url, APP_ROLE, password)
        _require_password(server, url, f"postgresql://{APP_ROLE}@127.0.0.1:{server.port}/chat")
        front = TlsFront(int(server.port or 0), certificate, key).start()
        try:
            app_secret = {
                "username": APP_ROLE,
                "password": password,
                "host": "localhost",
                "port": front.port,
                "dbname": "chat",
            }
            yield PostgresStandIn(url, app_secret, write_bundle(folder / "ca.pem", authority))
        finally:
            front.stop()
    finally:
        server.stop()


def function_environment(
    *, aws_endpoint: str, database: PostgresStandIn, secret_arns: dict[str, str], management_url: str
) -> dict[str, str]:
    """What the CDK app gives every function (``infra.chat_infra.stack``): the ARNs of the database's ``chat_app``
    secret and of the token signing key, the database's host, name and CA bundle; with the stand-ins' endpoints,
    as the local stack points them (``chat_local.cli._function_environment``).

    Built on an environment without the benchmark's own ``AWS_*``, ``POWERTOOLS_*``, ``DATABASE_*`` and
    ``TOKEN_*``, so no function is handed a database URL or a key that in AWS it reads from Secrets Manager.
    """
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "POWERTOOLS_", "DATABASE_", "TOKEN_"))}
    return {
        **keep,
        **LOCAL_AWS_ENV,
        "AWS_ENDPOINT_URL_DYNAMODB": aws_endpoint,
        "AWS_ENDPOINT_URL_S3": aws_endpoint,
        "AWS_ENDPOINT_URL_SECRETS_MANAGER": aws_endpoint,
        "ATTACHMENTS_BUCKET": BUCKET,
        "ATTACHMENTS_PUBLIC_ENDPOINT": f"{management_url}/_s3",
        "CONNECTIONS_TABLE": TABLE,
        "MANAGEMENT_API_URL": management_url,
        **secret_arns,
        "DATABASE_HOST": str(database.app_secret["host"]),
        "DATABASE_NAME": str(database.app_secret["dbname"]),
        "DATABASE_CA_BUNDLE": str(database.ca_bundle),
        "ALLOWED_ORIGINS": ORIGIN,
        "POWERTOOLS_SERVICE_NAME": "chat",
        "POWERTOOLS_METRICS_NAMESPACE": "Chat",
        "POWERTOOLS_METRICS_DISABLED": "true",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_LOG_LEVEL": "WARNING",
    }


def lambda_runtime_environment(spec: dict[str, Any]) -> dict[str, str]:
    """What Lambda itself sets in a function's environment (the X-Ray SDK, for one, reads ``LAMBDA_TASK_ROOT``:
    outside Lambda its sampler builds two botocore clients at import, in Lambda none)."""
    if not spec.get("module"):
        return {}
    return {
        "AWS_LAMBDA_FUNCTION_NAME": f"chat-{spec['name']}",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512",
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/chat-{spec['name']}",
        "AWS_EXECUTION_ENV": "AWS_Lambda_python3.12",
        "LAMBDA_TASK_ROOT": spec["folder"],
        "_HANDLER": f"{spec['module']}.handler",
    }


# ---------------------------------------------------------------- what Lambda could import


def _locked_layer_distributions() -> set[str]:
    """The distributions the layer installs: the closure of ``layers/common/requirements.txt`` in ``uv.lock``
    (the same ``uv export`` as ``infra.chat_infra.layer.locked_requirements``, without importing the CDK)."""
    import tomllib

    def name(spec: str) -> str:
        return spec.split("[")[0].split("=")[0].split(">")[0].split("<")[0].strip().lower().replace("_", "-")

    declared = {name(d) for d in tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]["dependencies"]}
    lines = (REPO_ROOT / "layers" / "common" / "requirements.txt").read_text().splitlines()
    wanted = {name(line.split("#")[0]) for line in lines if line.split("#")[0].strip()}
    exported = _uv_export(prune=declared - wanted)
    return {name(line) for line in exported.splitlines() if line and not line.startswith((" ", "#"))}


def _uv_export(prune: set[str] | frozenset[str] = frozenset()) -> str:
    """``uv export`` of the locked runtime dependencies (pins and hashes), without the ``prune``d distributions."""
    import shutil

    command = [shutil.which("uv") or "uv", "export", "--frozen", "--no-dev", "--no-emit-project", "--no-header"]
    command += ["--format", "requirements.txt", "--project", str(REPO_ROOT)]
    for pruned in sorted(prune):
        command += ["--prune", pruned]
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "UV_PROJECT")}
    return subprocess.run(command, capture_output=True, text=True, env=env, check=True).stdout


def _normalized(distribution: str) -> str:
    return distribution.lower().replace("_", "-").replace(".", "-")


def _top_level_modules(distributions: set[str]) -> list[str]:
    """The importable top-level names the installed ``distributions`` provide."""
    return sorted(
        module
        for module, provided_by in metadata.packages_distributions().items()
        if any(_normalized(d) in distributions for d in provided_by)
    )


def lambda_importable(layer: set[str]) -> list[str]:
    """Top-level module names a function can import in Lambda besides the standard library and its own files:
    the layer's and the runtime's (boto3)."""
    return sorted({"chatcore", *_top_level_modules(layer | set(RUNTIME_PROVIDED))})


def _site_packages() -> list[str]:
    return sorted({sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]})


def shipped_without_bytecode(distributions: set[str]) -> list[str]:
    """Path prefixes of the modules of ``distributions`` as installed here (what a package built without ``.pyc``
    ships for them)."""
    modules = _top_level_modules(distributions)
    return [
        os.path.join(site, module) + suffix
        for site in _site_packages()
        for module in modules
        for suffix in ("/", ".py")
    ]


# ---------------------------------------------------------------- the world the events act on


@dataclass
class World:
    """Users, rooms and open connections in the stand-ins, and the parent's own clients to them."""

    store: ChatStore
    registry: ConnectionRegistry
    gate: ConnectionGate
    tokens: TokenService
    room_id: int
    sender: UserRow
    connecting: list[UserRow]
    leaving: list[UserRow]
    listener_connections: list[str] = field(default_factory=list)

    def token(self, user: UserRow) -> str:
        from chatcore.tokens import Identity

        return self.tokens.issue(Identity(user_id=user.id, username=user.username))

    def register(self, user: UserRow) -> str:
        """Open a connection for ``user`` as ``$connect`` does (without announcing it); its id."""
        connection_id = _connection_id()
        self.gate.connect(connection_id, self.token(user))
        return connection_id


def _client_args(aws_endpoint: str) -> dict[str, Any]:
    """The parent's boto3 client arguments for the moto server."""
    return {
        "endpoint_url": aws_endpoint,
        "region_name": LOCAL_AWS_ENV["AWS_REGION"],
        "aws_access_key_id": "local",
        "aws_secret_access_key": "local",
    }


def store_secrets(aws_endpoint: str, database: PostgresStandIn, token_secret: str) -> dict[str, str]:
    """The database's ``chat_app`` secret and the token signing key in moto's Secrets Manager: their ARNs, by the
    variables that name them (``DATABASE_SECRET_ARN``, ``TOKEN_SECRET_ARN``)."""
    import boto3

    client = boto3.client("secretsmanager", **_client_args(aws_endpoint))
    database_arn = client.create_secret(Name="bench/chat-app", SecretString=json.dumps(database.app_secret))
    token_arn = client.create_secret(Name="bench/token-signing-key", SecretString=token_secret)
    return {"DATABASE_SECRET_ARN": database_arn["ARN"], "TOKEN_SECRET_ARN": token_arn["ARN"]}


def build_world(aws_endpoint: str, database_url: str, token_secret: str) -> World:
    """Two listeners online, a sender, a user who connects and one who leaves per invocation, in a room of all of them
    (each who connects or leaves also in a direct chat with a listener), with some history."""
    import boto3
    from chatcore.aws.registry import ConnectionRegistry, create_table
    from chatcore.postgres.database import Database
    from chatcore.postgres.store import ChatStore
    from chatcore.service.gate import ConnectionGate
    from chatcore.tokens import TokenService

    client_args = _client_args(aws_endpoint)
    dynamodb = boto3.client("dynamodb", **client_args)
    create_table(dynamodb, TABLE)
    boto3.client("s3", **client_args).create_bucket(Bucket=BUCKET)
    store = ChatStore(Database(database_url))
    registry = ConnectionRegistry(dynamodb, TABLE)
    tokens = TokenService(token_secret)

    def user(name: str) -> UserRow:
        return store.create_user(name, "$argon2id$not-a-login", nickname=name.title())

    listeners = [user("listener1"), user("listener2")]
    sender = user("sender")
    connecting = [user(f"connecting{i}") for i in range(1, INVOCATIONS + 1)]
    leaving = [user(f"leaving{i}") for i in range(1, INVOCATIONS + 1)]
    room = store.create_group("bench room", private=True, created_by=sender.id)
    for member in [*listeners, *connecting, *leaving]:
        store.add_member(room.id, member.id)
    for member in [*connecting, *leaving]:
        store.get_or_create_direct(member.id, listeners[0].id)
    for number in range(30):
        author = [sender, *listeners][number % 3]
        store.save_message(room.id, author.id, f"message {number} of the history", f"seed-{number}")
    gate = ConnectionGate(store, registry, tokens)
    world = World(store, registry, gate, tokens, room.id, sender, connecting, leaving)
    world.listener_connections = [world.register(listener) for listener in listeners]
    return world


# ---------------------------------------------------------------- events, as API Gateway sends them


def _template(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((EVENTS_DIR / f"{name}.json").read_text())
    return loaded


def _stamp(context: dict[str, Any], connection_id: str) -> None:
    now = int(time.time() * 1000)
    request_id = base64.b64encode(os.urandom(6)).decode() + "="
    context.update(
        connectionId=connection_id,
        requestId=request_id,
        extendedRequestId=request_id,
        connectedAt=now - 1000,
        requestTimeEpoch=now,
        requestTime=datetime.fromtimestamp(now / 1000, UTC).strftime("%d/%b/%Y:%H:%M:%S +0000"),
    )


def connect_event(connection_id: str, token: str) -> dict[str, Any]:
    event = copy.deepcopy(_template("ws_connect"))
    event["queryStringParameters"] = {"token": token}
    event["multiValueQueryStringParameters"] = {"token": [token]}
    _stamp(event["requestContext"], connection_id)
    return event


def message_event(connection_id: str, frame: dict[str, Any]) -> dict[str, Any]:
    event = copy.deepcopy(_template("ws_message"))
    event["body"] = json.dumps(frame)
    event["requestContext"]["routeKey"] = frame["type"]
    event["requestContext"]["messageId"] = base64.b64encode(os.urandom(6)).decode() + "="
    _stamp(event["requestContext"], connection_id)
    return event


def disconnect_event(connection_id: str) -> dict[str, Any]:
    event = copy.deepcopy(_template("ws_disconnect"))
    _stamp(event["requestContext"], connection_id)
    return event


def rest_event(token: str, path: str = "/conversations") -> dict[str, Any]:
    event = copy.deepcopy(_template("http_api"))
    now = int(time.time() * 1000)
    event["rawPath"] = event["requestContext"]["http"]["path"] = path
    event["headers"]["authorization"] = f"Bearer {token}"
    event["requestContext"]["requestId"] = str(uuid.uuid4())
    event["requestContext"]["timeEpoch"] = now
    return event


# ---------------------------------------------------------------- one child: prepare, run, check, clean up


@dataclass
class Scenario:
    """The events of one child, and what to check and clean up after it."""

    events: list[dict[str, Any]]
    finish: Callable[[], None]
    expected_body: str = ""


def scenario(name: str, world: World) -> Scenario:
    """The :data:`INVOCATIONS` invocations of ``name``, each a fresh request of the same kind."""
    if name == "connect":
        ids = [_connection_id() for _ in world.connecting]
        events = [connect_event(cid, world.token(user)) for cid, user in zip(ids, world.connecting, strict=True)]

        def connected() -> None:
            for cid, user in zip(ids, world.connecting, strict=True):
                if world.registry.user_connection_ids(user.id) != [cid]:
                    raise RuntimeError(f"connect did not register {user.username}'s connection")
                world.registry.remove_connection(cid)

        return Scenario(events, connected)
    if name == "disconnect":
        ids = [world.register(user) for user in world.leaving]

        def disconnected() -> None:
            for user in world.leaving:
                if world.registry.user_connection_ids(user.id):
                    raise RuntimeError(f"disconnect left {user.username}'s connection registered")

        return Scenario([disconnect_event(cid) for cid in ids], disconnected)
    if name == "message":
        cid = world.register(world.sender)
        keys = [f"bench-{uuid.uuid4()}" for _ in range(INVOCATIONS)]
        frames = [
            {"type": "message", "roomId": world.room_id, "text": f"hello {n}, how is it going?", "clientMsgId": key}
            for n, key in enumerate(keys)
        ]

        def sent() -> None:
            stored = world.store._db.values(
                "SELECT count(*) FROM messages WHERE user_id = %s AND client_msg_id = ANY(%s)", (world.sender.id, keys)
            )[0][0]
            if stored != len(keys):
                raise RuntimeError(f"message stored {stored} of {len(keys)} messages")
            world.registry.remove_connection(cid)

        return Scenario([message_event(cid, frame) for frame in frames], sent)
    if name == "rest":
        token = world.token(world.sender)
        return Scenario([rest_event(token) for _ in range(INVOCATIONS)], lambda: None, '"conversations"')
    raise ValueError(name)


@dataclass(frozen=True)
class Interpreter:
    """What the children run on: a Python, the folder standing for ``/opt/python`` on each side, and the one
    standing for the runtime's ``/var/runtime`` (its boto3), or None for the interpreter's own site-packages."""

    python: str
    layers: dict[str, Path]
    runtime: Path | None
    description: str

    @property
    def isolated(self) -> bool:
        """Only the standard library, the layer and the runtime's boto3 on the path (``-S``), as in Lambda."""
        return self.runtime is not None


def local_interpreter() -> Interpreter:
    """This environment's Python against the layer's sources and the installed packages (``--quick``, or a
    machine without the runtime's Python): close to Lambda, not the same interpreter nor the same files."""
    version = ".".join(map(str, sys.version_info[:3]))
    return Interpreter(
        sys.executable,
        {"ours": LAYER_DIR, "baseline": LAYER_DIR},
        None,
        f"CPython {version} (this environment's, not the runtime's 3.12), against the layer's sources and the"
        " packages installed here, imports outside the layer and the runtime's boto3 refused",
    )


def lambda_interpreter(built: dict[str, BuiltLayer | None]) -> Interpreter | None:
    """The runtime's Python (3.12, the one that compiled the layer's ``.pyc``) against the layers as built for
    Lambda and the runtime's boto3 installed for it: exactly what ships. None if any is missing."""
    ours, baseline, runtime = built.get("ours"), built.get("baseline"), built.get("runtime")
    if ours is None or baseline is None or runtime is None or ours.python is None:
        return None
    probe = subprocess.run(
        [ours.python, "-c", "import platform; print(platform.python_version())"],
        capture_output=True,
        text=True,
        check=False,
    )
    version = probe.stdout.strip() or "3.12"
    return Interpreter(
        ours.python,
        {"ours": ours.site, "baseline": baseline.site},
        runtime.site,
        f"CPython {version}, the runtime's Python (`python -S`: the standard library, then the function's"
        " folder, the layer as built for Lambda and the runtime's boto3 installed for CPython 3.12, nothing"
        " else)",
    )


@dataclass
class Child:
    """Runs the child harness with the functions' environment; counts the Management API requests."""

    env: dict[str, str]
    stub: ManagementStub
    importable: list[str]
    #: For the ``-nopyc`` variants with the local interpreter: the third-party modules each side ships.
    uncompiled: dict[str, list[str]]
    interpreter: Interpreter = field(default_factory=local_interpreter)

    def spec(self, name: str, variant: str, events: list[dict[str, Any]]) -> dict[str, Any]:
        side = variant.split("-")[0]
        if side == "ours":
            folder, module = FUNCTIONS_DIR / name, "handler"
        else:
            folder, module = BASELINE_DIR, name
        layer = self.interpreter.layers[side]
        isolated = self.interpreter.isolated
        spec: dict[str, Any] = {
            "name": name,
            "folder": str(folder),
            "module": module,
            "layer": str(layer),
            "runtime": str(self.interpreter.runtime) if isolated else None,
            "events": events,
            "importable": [] if isolated else self.importable,
            "site_packages": [] if isolated else _site_packages(),
        }
        if variant.endswith("-nopyc"):
            if isolated:  # the side's whole layer and its own folder; the runtime's boto3 stays compiled
                spec["compile_from_source"] = [str(layer) + "/", str(folder) + "/"]
            else:
                own = [str(folder) + "/", *([str(LAYER_DIR / "chatcore") + "/"] if side == "ours" else [])]
                spec["compile_from_source"] = [*self.uncompiled[side], *own]
        return spec

    def run(self, spec: dict[str, Any], variant: str = "") -> tuple[float, dict[str, Any], int]:
        """The child's wall time (from here), its report and the Management API requests it made."""
        posts = self.stub.requests
        env = {**self.env, **lambda_runtime_environment(spec), **(TRACED_ENV if variant.endswith("traced") else {})}
        flags = ["-P", "-S"] if self.interpreter.isolated else ["-P"]
        if self.interpreter.isolated:
            env = {k: v for k, v in env.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
        started = time.perf_counter()
        done = subprocess.run(
            [self.interpreter.python, *flags, str(CHILD)],
            input=json.dumps(spec),
            env=env,
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        wall = time.perf_counter() - started
        if done.returncode != 0:
            raise RuntimeError(f"{spec.get('module')} in {spec.get('folder')} failed:\n{done.stderr[-3000:]}")
        report: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
        return wall, report, self.stub.requests - posts


def _checked(name: str, variant: str, report: dict[str, Any], expected_body: str) -> None:
    for number, invocation in enumerate(report["invocations"], start=1):
        if invocation["status"] != 200 or expected_body not in (invocation["body"] or ""):
            answer = f"{invocation['status']}: {invocation['body']}"
            raise RuntimeError(f"{variant} {name}: invocation {number} answered {answer}")


def _mean_ms(invocations: list[dict[str, Any]], key: str) -> float:
    """The mean of the invocations' ``key`` (seconds), in ms."""
    return float(sum(i[key] for i in invocations)) / len(invocations) * 1000


def _run_record(wall: float, report: dict[str, Any], posts: int) -> dict[str, Any]:
    """One child's numbers, in ms: init, first and warm invocations, with their phases."""
    init = report["init"]
    first = report["invocations"][0]
    warm, steady = report["invocations"][WARM], report["invocations"][STEADY]
    phases = {p: (init["phases"][p] + first["phases"][p]) * 1000 for p in PHASES}
    imports: dict[str, float] = {}
    for part in (init, first):
        for package, seconds in part["imports"].items():
            imports[package] = imports.get(package, 0.0) + seconds * 1000
    return {
        "process_wall": wall * 1000,
        "init": init["wall"] * 1000,
        "first": first["wall"] * 1000,
        "cold": (init["wall"] + first["wall"]) * 1000,
        "cold_cpu": (init["cpu"] + first["cpu"]) * 1000,
        "warm": _mean_ms(warm, "wall"),
        "warm_cpu": _mean_ms(warm, "cpu"),
        "steady": _mean_ms(steady, "wall"),
        "init_phases": {p: init["phases"][p] * 1000 for p in PHASES},
        "cold_phases": phases,
        "imports": imports,
        "init_aws_calls": init.get("aws_calls", []),
        "aws_calls": [inv["aws_calls"] for inv in report["invocations"]],
        "sql": [len(inv["sql"]) for inv in report["invocations"]],
        "sql_text": report["invocations"][0]["sql"],
        "posts_per_invocation": posts / len(report["invocations"]),
    }


Runs = dict[str, dict[str, list[dict[str, Any]]]]


def measure(
    world: World, child: Child, variants: tuple[str, ...], repeats: int, warm_up: int
) -> tuple[Runs, list[float]]:
    """``repeats`` rounds after ``warm_up`` unmeasured ones, each running every function in every variant and a
    bare child once, in an order that rotates from round to round (functions, and variants within each)."""
    runs: Runs = {n: {v: [] for v in variants} for n in FUNCTIONS}
    bare: list[float] = []
    for round_number in range(warm_up + repeats):
        measured = round_number >= warm_up
        turn = round_number % len(variants)
        rotated = variants[turn:] + variants[:turn]
        order = [
            (FUNCTIONS[(i + round_number) % len(FUNCTIONS)], variant)
            for i in range(len(FUNCTIONS))
            for variant in rotated
        ]
        order.insert(round_number % (len(order) + 1), ("bare", ""))
        for name, variant in order:
            if name == "bare":
                wall, _report, _posts = child.run({"module": None})
                if measured:
                    bare.append(wall * 1000)
                continue
            plan = scenario(name, world)
            wall, report, posts = child.run(child.spec(name, variant, plan.events), variant)
            _checked(name, variant, report, plan.expected_body)
            plan.finish()
            if measured:
                runs[name][variant].append(_run_record(wall, report, posts))
        if not measured:
            progress("coldstart: warm-up round done (bytecode caches, the stand-ins' first requests)")
            continue
        cold = ", ".join(
            f"{n} {runs[n]['ours'][-1]['cold']:.0f}/{runs[n]['baseline'][-1]['cold']:.0f}" for n in FUNCTIONS
        )
        progress(f"coldstart: round {round_number - warm_up + 1}/{repeats}: init+first ms ours/baseline: {cold}")
    return runs, bare


# ---------------------------------------------------------------- sizes


def _zip_size(files: list[tuple[Path, str]], out: Path) -> int:
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path, name in files:
            archive.write(path, name)
    return out.stat().st_size


def _tree(root: Path, *, bytecode: bool = False) -> list[tuple[Path, str]]:
    """The files under ``root`` with their zip names; bytecode caches only if ``bytecode`` (a build that ships them)."""
    return [
        (p, str(p.relative_to(root)))
        for p in sorted(root.rglob("*"))
        if p.is_file() and (bytecode or ("__pycache__" not in p.parts and p.suffix != ".pyc"))
    ]


def _installed(distributions: set[str]) -> list[tuple[Path, str]]:
    """The files of installed distributions as they sit in site-packages (no bytecode caches)."""
    files = []
    for dist in metadata.distributions():
        if dist.metadata["Name"].lower().replace("_", "-") not in distributions:
            continue
        for entry in dist.files or []:
            path = Path(str(dist.locate_file(entry)))
            cached = "__pycache__" in entry.parts or path.suffix == ".pyc"
            if path.is_file() and not cached and ".." not in entry.parts:
                files.append((path, str(entry)))
    return files


@dataclass(frozen=True)
class BuiltLayer:
    """A layer (or the runtime's boto3) installed for Lambda's platform and Python."""

    site: Path
    """The folder Lambda puts on ``sys.path`` (``/opt/python``)."""
    files: list[tuple[Path, str]]
    """What the zip holds, with the names in it."""
    how: str
    python: str | None = None
    """The runtime's Python that compiled the ``.pyc`` files (ours only), or None."""


def _locked_subset(distributions: set[str]) -> list[str]:
    """The lines of ``uv export`` for ``distributions``: the locked set's pins and hashes."""
    lines, keep = [], False
    for line in _uv_export().splitlines():
        if line and not line.startswith((" ", "#")):
            keep = line.split("==")[0].strip().lower() in distributions
        if keep:
            lines.append(line)
    return lines


def build_for_lambda(root: Path, distributions: set[str] | None) -> BuiltLayer | None:
    """Ours (``distributions`` None) as the CDK app builds it, or the locked ``distributions`` alone, installed for
    Lambda (x86_64 manylinux, CPython 3.12, binary wheels, pinned by uv.lock); None if this machine cannot."""
    import shutil

    try:
        if distributions is None:
            os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
            from infra.chat_infra.layer import build_layer

            build = build_layer(root)
            bytecode = "with" if build.bytecode else "without (no Python 3.12 on this machine)"
            how = f"built as the CDK app builds it (`infra.chat_infra.layer.build_layer`), {bytecode} `.pyc`"
            return BuiltLayer(root / "python", _tree(root, bytecode=True), how, build.bytecode)
        requirements = root.parent / f"{root.name}-requirements.txt"
        requirements.write_text("\n".join(_locked_subset(distributions)) + "\n")
        target = root / "python"
        command = [shutil.which("uv") or "uv", "pip", "install", "--quiet", "--python-platform", "x86_64-manylinux2014"]
        command += ["--python-version", "3.12", "--only-binary", ":all:", "--no-config", "--no-deps"]
        command += ["--require-hashes", "--target", str(target), "--requirement", str(requirements)]
        env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}
        subprocess.run(command, capture_output=True, text=True, env=env, check=True, timeout=300)
        return BuiltLayer(target, _tree(root), "built with the layer's `uv pip install` for Lambda")
    except Exception as exc:  # no index reachable, no CDK: fall back to the installed packages
        progress(f"coldstart: building {root.name} failed ({type(exc).__name__}); measuring the installed packages")
        return None


def build_layers(work_dir: Path, quick: bool) -> dict[str, BuiltLayer | None]:
    """The full run's layers for Lambda: ours, the baselines' (psycopg) and the runtime's boto3; none with
    ``--quick``."""
    if quick:
        return {}
    progress("coldstart: building the layers for Lambda (ours, the baselines', the runtime's boto3)")
    wanted: dict[str, set[str] | None] = {
        "ours": None,
        "baseline": set(BASELINE_DEPENDENCIES),
        "runtime": set(RUNTIME_PROVIDED),
    }
    built = {label: build_for_lambda(work_dir / f"layer-{label}", dists) for label, dists in wanted.items()}
    ours = built["ours"]
    if ours is not None and ours.python is not None:
        from infra.chat_infra.layer import compile_bytecode

        # The runtime's boto3 is compiled in Lambda's image; the baselines' psycopg is given the same, so the
        # *baseline* rows are the samples at their best (the *no .pyc* rows measure them as shipped).
        for label in ("baseline", "runtime"):
            other = built[label]
            if other is not None:
                compile_bytecode(other.site, ours.python)
    return built


def package_sizes(work_dir: Path, built: dict[str, BuiltLayer | None], layer_dists: set[str]) -> dict[str, Any]:
    """Zipped and unzipped bytes of what Lambda downloads: the function's zip and its layer, ours and the baselines'.

    The full run measures the layers built for Lambda's platform (as the CDK app does); ``--quick``, or a machine
    that cannot build them, the same distributions as installed here for the local Python (close: the same
    versions, a different platform tag), and says so.
    """
    work_dir.mkdir(parents=True, exist_ok=True)
    layers: dict[str, dict[str, Any]] = {}
    for label, wanted in (("ours", None), ("baseline", set(BASELINE_DEPENDENCIES))):
        layer = built.get(label)
        if layer is None:
            files = _installed(layer_dists if wanted is None else wanted)
            if wanted is None:
                files += [(p, f"python/chatcore/{name}") for p, name in _tree(LAYER_DIR / "chatcore")]
            how = "the same distributions as installed here for the local Python (an approximation)"
        else:
            files, how = layer.files, layer.how
        layers[label] = {
            "unzipped": sum(p.stat().st_size for p, _ in files),
            "zipped": _zip_size(files, work_dir / f"layer-{label}.zip"),
            "files": len(files),
            "how": how,
        }
    functions: dict[str, dict[str, dict[str, int]]] = {}
    for name in FUNCTIONS:
        ours = _tree(FUNCTIONS_DIR / name)
        baseline = [(BASELINE_DIR / f"{name}.py", f"{name}.py")]
        functions[name] = {
            "ours": {"unzipped": sum(p.stat().st_size for p, _ in ours), "zipped": _zip_size(ours, work_dir / "f.zip")},
            "baseline": {
                "unzipped": baseline[0][0].stat().st_size,
                "zipped": _zip_size(baseline, work_dir / "b.zip"),
            },
        }
    return {"layers": layers, "functions": functions}


# ---------------------------------------------------------------- the benchmark


def run(
    quick: bool, out_dir: Path, work_dir: Path, *, repeats: int | None = None, variants: tuple[str, ...] | None = None
) -> Section:
    """9 measured rounds after a warm-up of every variant; ``--quick``: 3 rounds, no warm-up, ours and the baseline
    only, and the sizes of the installed packages (instead of building the layers for Lambda)."""
    repeats, warm_up = (repeats or 3, 0) if quick else (repeats or 9, 1)
    variants = variants or (VARIANTS if quick else VARIANTS + EXTRA_VARIANTS)
    work_dir.mkdir(parents=True, exist_ok=True)
    token_secret = secrets.token_urlsafe(48)
    layer = _locked_layer_distributions()
    uncompiled = {
        "ours": shipped_without_bytecode(layer - set(RUNTIME_PROVIDED)),
        "baseline": shipped_without_bytecode(set(BASELINE_DEPENDENCIES)),
    }
    built = build_layers(work_dir / "layers", quick)
    interpreter = lambda_interpreter(built) or local_interpreter()
    progress(f"coldstart: children run {interpreter.description}")
    progress("coldstart: starting PostgreSQL, moto and the Management API stand-in")
    with (
        postgres(work_dir / "postgres") as database,
        moto_server(work_dir / "moto.log") as aws_endpoint,
        ManagementStub() as stub,
    ):
        world = build_world(aws_endpoint, database.url, token_secret)
        secret_arns = store_secrets(aws_endpoint, database, token_secret)
        env = function_environment(
            aws_endpoint=aws_endpoint, database=database, secret_arns=secret_arns, management_url=stub.url
        )
        child = Child(env, stub, lambda_importable(layer), uncompiled, interpreter)
        runs, bare = measure(world, child, variants, repeats, warm_up)
        world.store._db.close()
    sizes = package_sizes(work_dir / "sizes", built, layer)
    summary = summarize(runs)
    plots = plot(summary, out_dir)
    return section(summary, runs, bare, sizes, repeats, quick, plots, interpreter.description)


def summarize(runs: dict[str, dict[str, list[dict[str, Any]]]]) -> dict[str, dict[str, dict[str, Any]]]:
    """Medians over the runs of every number of :func:`_run_record`."""
    summary: dict[str, dict[str, dict[str, Any]]] = {}
    for name, variants in runs.items():
        summary[name] = {}
        for variant, records in variants.items():
            keys = (
                "process_wall",
                "init",
                "first",
                "cold",
                "cold_cpu",
                "warm",
                "warm_cpu",
                "steady",
                "posts_per_invocation",
            )
            row: dict[str, Any] = {key: median([r[key] for r in records]) for key in keys}
            row["cold_phases"] = {p: median([r["cold_phases"][p] for r in records]) for p in PHASES}
            row["init_phases"] = {p: median([r["init_phases"][p] for r in records]) for p in PHASES}
            packages = {package for r in records for package in r["imports"]}
            imports = {p: median([r["imports"].get(p, 0.0) for r in records]) for p in packages}
            row["top_imports"] = sorted(imports.items(), key=lambda kv: kv[1], reverse=True)[:8]
            row["chosen_libraries"] = median([sum(r["imports"].get(p, 0.0) for p in CHOSEN_LIBRARIES) for r in records])
            last = records[-1]
            row["init_aws_calls"] = last["init_aws_calls"]
            row["aws_calls"] = last["aws_calls"]
            row["sql"] = last["sql"]
            row["sql_text"] = last["sql_text"]
            summary[name][variant] = row
    return summary


def _operations(calls: list[str]) -> str:
    counts: dict[str, int] = {}
    for call in calls:
        operation = call.split(".", 1)[1]
        counts[operation] = counts.get(operation, 0) + 1
    return ", ".join(f"{op}{f' x{n}' if n > 1 else ''}" for op, n in counts.items())


def _calls(row: dict[str, Any]) -> str:
    """The requests of the init (a baseline's module scope) and of the first invocation: AWS operations and SQL
    statements (and the later invocations' count where it differs); then the Management API posts the stand-in
    counted, a mean over all invocations (ours posts through ``http.client``, so its posts are not among its AWS
    operations). Each invocation's audience differs (every leaver leaves one fewer online, every joiner finds one
    more), so a first invocation posts more or fewer."""
    init = _operations(row.get("init_aws_calls", []))
    first = _operations(row["aws_calls"][0]) or "none"
    posts = row["posts_per_invocation"]
    sql, later = row["sql"][0], sorted(set(row["sql"][1:]))
    statements = f"SQL {sql}" + (f" (later {', '.join(map(str, later))})" if later and later != [sql] else "")
    return f"{f'init: {init}; ' if init else ''}{first}; {statements}; posts {posts:.0f} per invocation (mean)"


#: Why ours does more than the baseline in each function (what the delta below is made of).
WHAT_OURS_ADDS = {
    "connect": "the token check (PyJWT, its signing key read from Secrets Manager), the event model and the"
    " presence frame (pydantic), Powertools",
    "message": "the frame's validation and the delivery's frame models (pydantic), Powertools",
    "disconnect": "the event model and the presence frame (pydantic), Powertools",
    "rest": "the token check (PyJWT, its signing key read from Secrets Manager), Powertools' resolver with"
    " validation (request parameters and response"
    " models of every route, pydantic), the layer's routes and services",
}


def _limits(summary: dict[str, dict[str, dict[str, Any]]]) -> str:
    """For each function, what its init + first invocation costs beyond the baseline's, by phase and package."""
    lines = []
    for name in FUNCTIONS:
        ours, base = summary[name]["ours"], summary[name]["baseline"]
        ratio = ours["cold"] / base["cold"]
        phases = ", ".join(
            f"{PHASE_LABELS[p]} {ours['cold_phases'][p] - base['cold_phases'][p]:+.0f}"
            for p in PHASES
            if abs(ours["cold_phases"][p] - base["cold_phases"][p]) >= 5
        )
        theirs = dict(base["top_imports"])
        packages = ", ".join(f"{pkg} {ms - theirs.get(pkg, 0.0):+.0f}" for pkg, ms in ours["top_imports"][:6])
        verdict = "met" if ratio <= TARGET_COLD else "missed"
        budget = (TARGET_COLD - 1) * base["cold"]
        chosen = ours.get("chosen_libraries", 0.0) - base.get("chosen_libraries", 0.0)
        lines.append(
            f"* `{name}` {ratio:.2f}x ({verdict}): {ours['cold'] - base['cold']:+.0f} ms over the baseline ({phases});"
            f" the biggest imports against the baseline's: {packages}. Ours does more: {WHAT_OURS_ADDS[name]}."
            f" Importing pydantic and Powertools alone costs {chosen:.0f} ms of the {budget:.0f} the target allows"
            f" over the baseline ({(TARGET_COLD - 1) * 100:.0f}% of its {base['cold']:.0f} ms)."
        )
    return "\n".join(lines)


def _slim(runs: Runs) -> Runs:
    """The runs as saved: without each run's per-package import times and SQL text (the summary keeps them)."""
    return {
        name: {
            v: [{k: x for k, x in r.items() if k not in ("imports", "sql_text")} for r in rs] for v, rs in sides.items()
        }
        for name, sides in runs.items()
    }


def section(
    summary: dict[str, dict[str, dict[str, Any]]],
    runs: dict[str, dict[str, list[dict[str, Any]]]],
    bare: list[float],
    sizes: dict[str, Any],
    repeats: int,
    quick: bool,
    plots: list[str],
    interpreter: str,
) -> Section:
    rows, targets = [], []
    warmed = "" if quick else " after an unmeasured warm-up round"
    for name in FUNCTIONS:
        ours, base = summary[name]["ours"], summary[name]["baseline"]
        cold_ratio, warm_ratio = ours["cold"] / base["cold"], ours["warm"] / base["warm"]
        steady_ratio = ours["steady"] / base["steady"]
        for label, row in (("ours", ours), ("baseline", base)):
            rows.append(
                [
                    f"`{name}` {label}",
                    fmt(row["init"]),
                    fmt(row["first"]),
                    f"**{fmt(row['cold'])}**",
                    fmt(row["warm"]),
                    fmt(row["steady"]),
                    fmt(row["process_wall"]),
                    f"{cold_ratio:.2f}x" if label == "ours" else "",
                    f"{warm_ratio:.2f}x" if label == "ours" else "",
                    f"{steady_ratio:.2f}x" if label == "ours" else "",
                ]
            )
        cold_goal, warm_goal = f"<= {TARGET_COLD}x", f"<= {TARGET_WARM}x"
        cold_met, warm_met = cold_ratio <= TARGET_COLD, warm_ratio <= TARGET_WARM
        targets.append(Target(f"{name}: init + first call vs baseline", cold_goal, f"{cold_ratio:.2f}x", cold_met))
        targets.append(Target(f"{name}: warm invocation vs baseline", warm_goal, f"{warm_ratio:.2f}x", warm_met))
        steady_met = steady_ratio <= TARGET_WARM
        targets.append(
            Target(f"{name}: steady warm invocation vs baseline", warm_goal, f"{steady_ratio:.2f}x", steady_met)
        )
    table = md_table(
        [
            "function",
            "init (import) ms",
            "first invocation ms",
            "init + first ms",
            "warm invocation ms",
            "steady warm ms",
            "child process wall ms",
            "init + first vs baseline",
            "warm vs baseline",
            "steady vs baseline",
        ],
        rows,
    )
    phase_rows = [
        [f"`{name}` {variant}", *(fmt(summary[name][variant]["cold_phases"][p]) for p in PHASES)]
        for name in FUNCTIONS
        for variant in VARIANTS
    ]
    phase_table = md_table(["init + first invocation", *(f"{PHASE_LABELS[p]} ms" for p in PHASES)], phase_rows)
    call_rows = [[f"`{name}`", _calls(summary[name]["ours"]), _calls(summary[name]["baseline"])] for name in FUNCTIONS]
    call_table = md_table(["first invocation's requests", "ours", "baseline"], call_rows)
    import_rows = [
        [f"`{name}` {variant}", ", ".join(f"{pkg} {ms:.0f}" for pkg, ms in summary[name][variant]["top_imports"])]
        for name in FUNCTIONS
        for variant in VARIANTS
    ]
    import_table = md_table(["init + first invocation", "biggest imports (exclusive ms, median)"], import_rows)
    extra_rows = [
        [
            f"`{name}` {VARIANT_LABELS[variant]}",
            fmt(summary[name][variant]["init"]),
            fmt(summary[name][variant]["first"]),
            f"**{fmt(summary[name][variant]['cold'])}**",
            fmt(summary[name][variant]["warm"]),
            f"{summary[name][variant]['cold'] / summary[name][VERSUS[variant]]['cold']:.2f}x {VERSUS[variant]}"
            if variant in VERSUS
            else "",
        ]
        for name in FUNCTIONS
        for variant in EXTRA_VARIANTS
        if variant in summary[name]
    ]
    extra_table = (
        md_table(
            ["as in AWS", "init ms", "first invocation ms", "init + first ms", "warm ms", "init + first vs"],
            extra_rows,
        )
        if extra_rows
        else ""
    )
    size_rows = []
    for name in FUNCTIONS:
        for variant in VARIANTS:
            function = sizes["functions"][name][variant]
            layer = sizes["layers"][variant]
            uses_layer = variant == "ours" or name != "disconnect"
            size_rows.append(
                [
                    f"`{name}` {variant}",
                    f"{function['zipped'] / 1024:.1f} KB",
                    f"{layer['zipped'] / 2**20:.1f} MB" if uses_layer else "none",
                    f"{layer['unzipped'] / 2**20:.1f} MB" if uses_layer else "",
                ]
            )
    size_table = md_table(["package", "function zip", "layer zipped", "layer unzipped"], size_rows)
    markdown = "\n\n".join(
        [
            f"The children: {interpreter}. Median of {repeats} interleaved runs (each a fresh interpreter){warmed},"
            " on a shared 2-core"
            " machine with other work running (hence interleaving and medians); a bare child"
            f" (the interpreter, the harness, no function) takes {fmt(median(bare))} ms, in every process wall"
            " alike. *Init* is the import of the handler module (Lambda's init phase), *first invocation* the"
            " first call, doing real work; *warm* is the mean of the second and third calls, *steady*"
            f" of the {STEADY.start + 1}th to {INVOCATIONS}th: psycopg prepares a query on its sixth run (the"
            " baselines keep that default) and PostgreSQL plans a prepared statement for its parameters on its"
            " first five executions before it caches a generic plan, so from the 12th invocation the baselines"
            " run cached plans; ours never prepares one (RDS Proxy pins a session that does) and runs its"
            " heaviest query, the conversations list, as a PL/pgSQL function with a forced generic plan, cached"
            " from its second call; a warm REST container remembers a token it verified and a user it found in the"
            " last 5 s (`USER_CHECK_SECONDS`), so from the second invocation (one user's, as in a page load's burst)"
            " ours runs that one query. The ratios compare init + first, which is what the"
            " first user of a container waits for beyond the runtime's own start.",
            table,
            "What ours adds over the baseline, in ms of init + first invocation (medians):",
            _limits(summary),
            "Where the time goes (exclusive time of each phase over init + first invocation, medians; see"
            " `bench/coldstart_child.py` for how each is measured):",
            phase_table,
            "The requests each side made in its init (module scope) and its first invocation (the later ones make"
            " the same, without the secrets, and as many statements unless the table says otherwise):",
            call_table,
            import_table,
            *(
                [
                    "What AWS adds, measured in the same rounds (full run only): *X-Ray tracing on* is ours with"
                    " active tracing as Lambda runs it (`POWERTOOLS_TRACE_DISABLED=false`, a sampled trace header,"
                    " the daemon's address: the X-Ray SDK patches botocore and records subsegments); *no .pyc*"
                    " compiles every module of the function's own packages from source on import, as Lambda"
                    " does with a package shipped without `__pycache__` (`/opt` and `/var/task` are read-only,"
                    " so nothing is cached between cold starts): the CDK app's layer when the deploying machine"
                    " has no Python 3.12 to compile it with, and the baselines' packages as the samples build"
                    " them (`pip install --target`, zipped without the caches). The baseline's own packages are"
                    " psycopg and its file; boto3 is the runtime's, compiled, on both sides.",
                    extra_table,
                ]
                if extra_table
                else []
            ),
            "What Lambda downloads on a cold start. Ours: "
            f"{sizes['layers']['ours']['how']}; baseline (psycopg only, boto3 from the runtime):"
            f" {sizes['layers']['baseline']['how']}.",
            size_table,
            *[f"![{p}]({p})" for p in plots],
        ]
    )
    return Section(
        name="coldstart",
        title="3. Cold start: what the first user of a container waits for",
        markdown=markdown,
        data={
            "summary": summary,
            "runs": _slim(runs),
            "bare_ms": bare,
            "sizes": sizes,
            "repeats": repeats,
            "quick": quick,
        },
        plots=plots,
        targets=targets,
    )


def plot(summary: dict[str, dict[str, dict[str, Any]]], out_dir: Path) -> list[str]:
    """Stacked bars of init + first invocation by phase, ours beside the baseline; warm invocations beside."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    colors = {
        "import": "#3b75af",
        "gc": "#8c8c8c",
        "models": "#e1812c",
        "clients": "#3a923a",
        "database": "#c03d3e",
        "work": "#9372b2",
    }
    labels = [f"{name}\n{'ours' if variant == 'ours' else 'base'}" for name in FUNCTIONS for variant in VARIANTS]
    rows = [summary[name][variant] for name in FUNCTIONS for variant in VARIANTS]
    positions = [i + (i // 2) * 0.6 for i in range(len(rows))]
    fig, (cold_ax, warm_ax) = plt.subplots(1, 2, figsize=(14, 5.5), gridspec_kw={"width_ratios": [3, 2]})
    bottoms = [0.0] * len(rows)
    for phase in PHASES:
        values = [row["cold_phases"][phase] for row in rows]
        cold_ax.bar(positions, values, bottom=bottoms, color=colors[phase], label=PHASE_LABELS[phase], width=0.8)
        bottoms = [b + v for b, v in zip(bottoms, values, strict=True)]
    for i, name in enumerate(FUNCTIONS):
        target = summary[name]["baseline"]["cold"] * TARGET_COLD
        left = positions[2 * i] - 0.4
        cold_ax.hlines(target, left, left + 1.8, colors="#333333", linestyles="--", linewidth=1)
    cold_ax.plot([], [], color="#333333", linestyle="--", label=f"target: {TARGET_COLD}x the baseline")
    cold_ax.set_xticks(positions, labels, fontsize=8)
    cold_ax.set_ylabel("ms (median)")
    cold_ax.set_title("init + first invocation, by phase")
    fig.legend(*cold_ax.get_legend_handles_labels(), fontsize=8, loc="lower center", ncol=6, frameon=False)
    cold_ax.grid(True, axis="y", alpha=0.3)
    warm = [row["warm"] for row in rows]
    warm_ax.bar(positions, warm, color=["#3b75af" if i % 2 == 0 else "#999999" for i in range(len(rows))], width=0.8)
    warm_ax.set_xticks(positions, labels, fontsize=7)
    warm_ax.set_title("warm invocation (ours blue, baseline grey)")
    warm_ax.set_ylabel("ms (median)")
    warm_ax.grid(True, axis="y", alpha=0.3)
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    fig.savefig(out_dir / "coldstart.png", dpi=110)
    plt.close(fig)
    return ["coldstart.png"]
