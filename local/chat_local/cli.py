"""``chat-local``: the whole system on this machine, with no AWS account.

Starts an embedded PostgreSQL (or uses ``DATABASE_URL``), moto's DynamoDB server, and the API Gateway
emulator serving the WebSocket API at ``/ws``, the HTTP API at ``/api``, the Management API at
``/@connections/{id}`` and the web UI at ``/``; prints ``ready: http://HOST:PORT`` once it accepts
connections, and stops everything cleanly on Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import secrets
import signal
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from aiohttp import web
from botocore.credentials import Credentials

from chat_local.dynamodb import MotoDynamoDB
from chat_local.events import schedule_event
from chat_local.gateway import Gateway, GatewayConfig
from chat_local.postgres import EmbeddedPostgres
from chat_local.s3front import PREFIX as S3_PREFIX
from chat_local.s3front import S3Front
from chat_local.sigv4 import REGION, credentials_environment, stack_credentials

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

log = logging.getLogger("local_stack")

TABLE_NAME = "chat-connections"
BUCKET_NAME = "chat-attachments"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="chat-local", description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8080, help="port to listen on (default 8080; 0 picks one)")
    parser.add_argument("--data-dir", type=Path, default=Path(".local"), help="where data is kept (default .local/)")
    parser.add_argument("--idle-timeout", type=float, default=600.0, help="seconds before an idle socket is closed")
    parser.add_argument(
        "--max-connection-duration", type=float, default=7200.0, help="seconds before any socket is closed"
    )
    parser.add_argument("--management-latency-ms", type=float, default=0.0, help="added to each Management API call")
    parser.add_argument(
        "--prune-interval", type=float, default=300.0, help="seconds between prune runs (AWS: every 5 minutes)"
    )
    parser.add_argument(
        "--prune-stale-after", type=float, default=300.0, help="prune checks connections quiet for this long"
    )
    parser.add_argument(
        "--allowed-origin",
        action="append",
        default=[],
        help="another web origin allowed to open WebSockets and to call the HTTP API (CORS)",
    )
    parser.add_argument(
        "--public-url",
        help="the URL browsers reach the stack at, if not http://HOST:PORT (behind a proxy, or with --host 0.0.0.0);"
        " config.json advertises it and its origin is allowed",
    )
    parser.add_argument(
        "--test-endpoints",
        action="store_true",
        help="serve /_local/* (list and drop connections, run schedules, inject faults) for tests and debugging",
    )
    parser.add_argument("--verbose", action="store_true", help="also print the functions' INFO logs")
    args = parser.parse_args(argv)
    for url in [*args.allowed_origin, *([args.public_url] if args.public_url else [])]:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            parser.error(f"{url!r} is not an http(s) URL")
    return args


def _token_secret(data_dir: Path) -> str:
    """The signing key, kept in the data folder so tokens survive a restart."""
    path = data_dir / "token-secret"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
    return path.read_text().strip()


def _function_environment(
    *,
    credentials: Credentials,
    dynamodb_endpoint: str,
    public_url: str,
    database_url: str,
    management_url: str,
    token_secret: str,
    allowed_origins: str,
    prune_stale_after: float,
    verbose: bool,
) -> dict[str, str]:
    """What the CDK stack sets on each function, pointed at the local stand-ins.

    ``credentials`` (see :func:`chat_local.sigv4.stack_credentials`) are the ones the emulator's Management
    API verifies signatures with, and ``REGION`` its signing region.
    """
    return {
        "AWS_ENDPOINT_URL_DYNAMODB": dynamodb_endpoint,
        # moto's S3 on the same server for the functions' own calls; browsers use the stack's /_s3.
        "AWS_ENDPOINT_URL_S3": dynamodb_endpoint,
        "ATTACHMENTS_BUCKET": BUCKET_NAME,
        "ATTACHMENTS_PUBLIC_ENDPOINT": public_url + S3_PREFIX,
        **credentials_environment(credentials),
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        "CONNECTIONS_TABLE": TABLE_NAME,
        "MANAGEMENT_API_URL": management_url,
        "DATABASE_URL": database_url,
        "TOKEN_SECRET": token_secret,
        "ALLOWED_ORIGINS": allowed_origins,
        "PRUNE_STALE_AFTER_SECONDS": str(prune_stale_after),
        "POWERTOOLS_SERVICE_NAME": "chat",
        "POWERTOOLS_METRICS_NAMESPACE": "Chat",
        "POWERTOOLS_METRICS_DISABLED": "true",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_LOG_LEVEL": "INFO" if verbose else "WARNING",
    }


_ANY_ADDRESS = ("0.0.0.0", "::")


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _origin(url: str) -> str:
    """The web origin of ``url`` (scheme and host, lower case), as a browser sends it in ``Origin``."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def _public_url(host: str, port: int, public_url: str | None) -> str:
    """Where browsers reach the stack: ``--public-url``, else the address it listens on (127.0.0.1 for any)."""
    if public_url:
        return public_url.rstrip("/")
    return f"http://{_url_host('127.0.0.1' if host in _ANY_ADDRESS else host)}:{port}"


def _web_origins(host: str, port: int, extra: list[str]) -> frozenset[str]:
    """The web UI's own origins (on 127.0.0.1, localhost and ``host``) and ``extra`` ones: never ``*``.

    The HTTP API answers CORS for these only.
    """
    hosts = {host, "127.0.0.1", "localhost"} - set(_ANY_ADDRESS)
    return frozenset({f"http://{_url_host(h)}:{port}" for h in hosts} | {_origin(o) for o in extra})


def _local_origins(host: str, port: int, extra: list[str]) -> str:
    """The web UI's own origins (and ``--allowed-origin``s): pages from elsewhere may not open WebSockets.

    Listening on every interface means unknown addresses, so then only ``--allowed-origin`` restricts.
    """
    if host in _ANY_ADDRESS and not extra:
        return "*"
    return ",".join(sorted(_web_origins(host, port, extra)))


def _step(message: str) -> float:
    log.info("%s", message)
    return time.monotonic()


async def serve(args: argparse.Namespace) -> None:
    data_dir: Path = args.data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240 - once, before serving
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)

    postgres: EmbeddedPostgres | None = None
    dynamodb = MotoDynamoDB()
    runner: web.AppRunner | None = None
    gateway: Gateway | None = None
    try:
        database_url = os.environ.get("DATABASE_URL")
        if database_url:
            log.info("postgres: using DATABASE_URL")
        else:
            started = _step(f"postgres: starting (data in {data_dir / 'postgres'})")
            postgres = EmbeddedPostgres(data_dir / "postgres")
            # Started from this (the main) thread: the kernel's parent-death signal is tied to the
            # starting thread, so a worker thread's exit would stop the server.
            database_url = postgres.start()
            log.info("postgres: ready on port %s (%d ms)", postgres.port, (time.monotonic() - started) * 1000)

        from chatcore.postgres.migrate import apply_migrations

        applied = await asyncio.to_thread(apply_migrations, database_url)
        log.info("postgres: migrations %s", ", ".join(applied) if applied else "up to date")

        # The stack's one pair of credentials: the functions sign Management API calls with them (their
        # environment, below) and the gateway verifies with them.
        credentials = stack_credentials(os.environ)
        started = _step("dynamodb: starting moto server")
        endpoint = dynamodb.start()  # main thread, as above
        await asyncio.to_thread(_create_table, endpoint, credentials)
        s3 = _s3_client(endpoint, credentials)
        await asyncio.to_thread(s3.create_bucket, Bucket=BUCKET_NAME)
        log.info(
            "dynamodb: table %s and s3: bucket %s ready at %s (%d ms)",
            TABLE_NAME,
            BUCKET_NAME,
            endpoint,
            (time.monotonic() - started) * 1000,
        )

        config = GatewayConfig(
            idle_timeout=args.idle_timeout,
            max_connection_duration=args.max_connection_duration,
            management_latency=args.management_latency_ms / 1000,
            credentials=credentials,
            region=REGION,
            test_endpoints=args.test_endpoints,
        )
        gateway = Gateway(config, s3=S3Front(s3, credentials, REGION))
        runner = web.AppRunner(gateway.app, access_log=None, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, args.host, args.port)
        await site.start()
        port = runner.addresses[0][1]
        # The advertised URL and the allowed origins, from the configuration only (never a request's Host).
        public_url = _public_url(args.host, port, args.public_url)
        extra_origins = [*args.allowed_origin, *([_origin(public_url)] if args.public_url else [])]
        config.public_url = public_url
        config.web_origins = _web_origins(args.host, port, extra_origins)
        management_host = "127.0.0.1" if args.host in _ANY_ADDRESS else _url_host(args.host)
        if not credentials.token:  # an inherited token would be signed with and refused
            os.environ.pop("AWS_SESSION_TOKEN", None)
            os.environ.pop("AWS_SECURITY_TOKEN", None)
        os.environ.update(
            _function_environment(
                credentials=credentials,
                dynamodb_endpoint=endpoint,
                public_url=public_url,
                database_url=database_url,
                management_url=f"http://{management_host}:{port}",
                token_secret=_token_secret(data_dir),
                allowed_origins=_local_origins(args.host, port, extra_origins),
                prune_stale_after=args.prune_stale_after,
                verbose=args.verbose,
            )
        )
        prune = gateway.functions["prune"]
        gateway.add_timer(args.prune_interval, lambda: prune.invoke(schedule_event("chat-prune")), "prune")
        print(f"ready: http://{args.host}:{port}", flush=True)
        await stop.wait()
        log.info("stopping")
    finally:
        if runner is not None:
            await runner.cleanup()
        if gateway is not None:
            gateway.close()
        dynamodb.stop()
        if postgres is not None:
            await asyncio.to_thread(postgres.stop)
        log.info("stopped")


def _s3_client(endpoint: str, credentials: Credentials) -> S3Client:
    import boto3

    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id=credentials.access_key,
        aws_secret_access_key=credentials.secret_key,
        aws_session_token=credentials.token,
    )


def _create_table(endpoint: str, credentials: Credentials) -> None:
    import boto3
    from chatcore.aws.registry import create_table

    client = boto3.client(
        "dynamodb",
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id=credentials.access_key,
        aws_secret_access_key=credentials.secret_key,
        aws_session_token=credentials.token,
    )
    create_table(client, TABLE_NAME)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S", stream=sys.stderr)
    # The root handler would also print the functions' Powertools records; they print their own JSON.
    for noisy in ("aiohttp", "botocore", "boto3", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        asyncio.run(serve(args))
    except Exception as exc:
        log.error("chat-local failed: %s", exc)
        raise SystemExit(1) from exc


if __name__ == "__main__":
    main()
