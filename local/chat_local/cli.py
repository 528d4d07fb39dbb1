"""``chat-local``: the whole system on this machine, with no AWS account, driven by the CDK app's template.

Reads the synthesized CloudFormation template of the CDK app (cached; synthesized when ``infra/`` changed:
:mod:`chat_local.template`) for the routes, the functions and the stages; starts what the template needs
locally -- an embedded PostgreSQL (or uses ``DATABASE_URL``) when a function reads a database secret,
moto's DynamoDB, S3 and SQS with the template's tables, buckets and queues, and a poller per SQS event
source mapping (:mod:`chat_local.event_sources`) -- and the API Gateway emulator serving the WebSocket API at
``/ws``, the HTTP API at ``/api``, the Management API at ``/{stage}/@connections/{id}`` and the web UI at
``/``; prints ``ready: http://HOST:PORT`` once it accepts connections, and stops everything cleanly on
Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import secrets
import signal
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from aiohttp import web
from botocore.credentials import Credentials

from chat_local import template as templates
from chat_local.dynamodb import MotoDynamoDB
from chat_local.event_sources import SqsEventSource
from chat_local.events import schedule_event
from chat_local.gateway import WEB_DIR, Gateway, GatewayConfig
from chat_local.pool import FunctionPool, Functions
from chat_local.postgres import EmbeddedPostgres
from chat_local.s3front import PREFIX as S3_PREFIX
from chat_local.s3front import S3Front
from chat_local.sigv4 import REGION, stack_credentials
from chat_local.spec import LocalSpec, QueueSpec, ScheduleSpec, TableSpec
from chat_local.stand_ins import LocalQueue, Locals, function_environment, needs_database

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sqs import SQSClient

log = logging.getLogger("local_stack")


def _context_item(text: str) -> tuple[str, str]:
    key, separator, value = text.partition("=")
    if not separator or not key:
        raise argparse.ArgumentTypeError(f"{text!r} is not KEY=VALUE")
    return key, value


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
        "--prune-interval",
        type=float,
        help="seconds between the schedules' runs (default: each rule's rate, every 5 minutes for prune)",
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
    parser.add_argument(
        "--app",
        type=Path,
        default=templates.REPO_ROOT,
        help="the CDK app to serve: the folder of its cdk.json (default: this repository)",
    )
    parser.add_argument(
        "--context",
        "-c",
        action="append",
        type=_context_item,
        default=[],
        metavar="KEY=VALUE",
        help="CDK context for the synth, as `cdk synth -c` (e.g. throttleRateLimit=1000)",
    )
    parser.add_argument("--stack", help="the stack to serve, if the app has several with an API")
    parser.add_argument("--template", type=Path, help="serve this synthesized template (cdk.out/*.template.json)")
    parser.add_argument(
        "--template-cache", type=Path, help="where synthesized templates are kept (default: APP/.local/template-cache)"
    )
    parser.add_argument(
        "--max-containers",
        type=int,
        default=8,
        help="warm containers per function without reserved concurrency (default 8; reserved concurrency caps exactly)",
    )
    parser.add_argument(
        "--container-idle-timeout",
        type=float,
        default=600.0,
        help="seconds an idle container is kept warm (default 600)",
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


def _load_spec(args: argparse.Namespace) -> LocalSpec:
    """The template's spec: ``--template``, else the app's (cached, synthesized or the snapshot)."""
    started = time.monotonic()
    if args.template:
        template = templates.read_template_file(args.template, stack=args.stack)
    else:
        template = templates.load(
            args.app,
            overrides=dict(args.context),
            stack=args.stack,
            cache_dir=args.template_cache,
            progress=lambda message: log.info("%s", message),
        )
    spec = template.spec()
    routes = len(spec.websocket.routes) if spec.websocket else 0
    log.info(
        "template: %s, %s (%d ms): %d WebSocket routes, %d functions",
        spec.stack_name,
        template.source,
        (time.monotonic() - started) * 1000,
        routes,
        len(spec.functions),
    )
    return spec


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
    pollers: list[SqsEventSource] = []
    try:
        spec = await asyncio.to_thread(_load_spec, args)
        database_url = os.environ.get("DATABASE_URL")
        if not needs_database(spec):
            database_url = None
        elif database_url:
            log.info("postgres: using DATABASE_URL")
        else:
            started = _step(f"postgres: starting (data in {data_dir / 'postgres'})")
            postgres = EmbeddedPostgres(data_dir / "postgres")
            # Started from this (the main) thread: the kernel's parent-death signal is tied to the
            # starting thread, so a worker thread's exit would stop the server.
            database_url = postgres.start()
            log.info("postgres: ready on port %s (%d ms)", postgres.port, (time.monotonic() - started) * 1000)
        if database_url:
            from chatcore.postgres.migrate import apply_migrations

            applied = await asyncio.to_thread(apply_migrations, database_url)
            log.info("postgres: migrations %s", ", ".join(applied) if applied else "up to date")

        # The stack's one pair of credentials: the functions sign Management API calls with them (their
        # environment, below) and the gateway verifies with them.
        credentials = stack_credentials(os.environ)
        endpoint: str | None = None
        s3_front: S3Front | None = None
        queues: dict[str, LocalQueue] = {}
        if spec.tables or spec.buckets or spec.queues:
            started = _step("moto: starting (DynamoDB, S3 and SQS)")
            endpoint = dynamodb.start()  # main thread, as above
            await asyncio.to_thread(_create_tables, endpoint, credentials, list(spec.tables.values()))
            s3 = _s3_client(endpoint, credentials)
            for bucket in spec.buckets.values():
                await asyncio.to_thread(s3.create_bucket, Bucket=bucket.name)
            if spec.buckets:
                s3_front = S3Front(s3, credentials, REGION)
            sqs = _sqs_client(endpoint, credentials)
            queues = await asyncio.to_thread(_create_queues, sqs, list(spec.queues.values()))
            # tests/helpers/stack.py finds the endpoint in this line ("ready at http://...").
            log.info(
                "moto: tables %s, buckets %s, queues %s ready at %s (%d ms)",
                ", ".join(t.name for t in spec.tables.values()) or "none",
                ", ".join(b.name for b in spec.buckets.values()) or "none",
                ", ".join(_queue_label(q) for q in spec.queues.values()) or "none",
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
        web_dir = args.app.resolve() / "web"
        gateway = Gateway(config, spec, web_dir=web_dir if web_dir.is_dir() else WEB_DIR, s3=s3_front)
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
        local = Locals(
            region=REGION,
            credentials=credentials,
            gateway_url=f"http://{management_host}:{port}",
            web_origins=_local_origins(args.host, port, extra_origins),
            token_secret=_token_secret(data_dir),
            dynamodb_endpoint=endpoint,
            database_url=database_url,
            table_names={t.logical_id: t.name for t in spec.tables.values()},
            bucket_names={b.logical_id: b.name for b in spec.buckets.values()},
            queues=queues,
            public_s3_endpoint=public_url + S3_PREFIX,
            verbose=args.verbose,
            extra={"PRUNE_STALE_AFTER_SECONDS": str(args.prune_stale_after)},
        )
        pools = {
            fn.label: FunctionPool(
                fn,
                function_environment(spec, fn, local),
                max_containers=args.max_containers,
                idle_timeout=args.container_idle_timeout,
            )
            for fn in spec.functions.values()
        }
        gateway.attach(Functions(pools))
        for schedule in spec.schedules:
            _schedule(gateway, spec, schedule, args.prune_interval)
        if endpoint is not None:
            pollers = _event_sources(spec, pools, queues, sqs, args.max_containers)
            for poller in pollers:
                poller.start()
        print(f"ready: http://{args.host}:{port}", flush=True)
        await stop.wait()
        log.info("stopping")
    finally:
        if gateway is not None:
            await gateway.drain()  # while the Management API still answers the last $disconnects
        if runner is not None:
            await runner.cleanup()
        for poller in pollers:
            await poller.stop()
        if gateway is not None:
            await gateway.stop()
        dynamodb.stop()
        if postgres is not None:
            await asyncio.to_thread(postgres.stop)
        log.info("stopped")


def _schedule(gateway: Gateway, spec: LocalSpec, schedule: ScheduleSpec, interval: float | None) -> None:
    """An EventBridge rule as a timer (``/_local/schedules/<function>`` runs it at once)."""
    every = interval or schedule.interval
    if not schedule.enabled or every is None:
        log.info("schedule   %s (%s) not run locally", schedule.name, schedule.expression)
        return
    pool = gateway.functions[spec.function(schedule.function).label]

    async def run() -> object:
        invocation = await pool.invoke(schedule_event(schedule.name, REGION))
        if not invocation.ok:
            raise RuntimeError(f"{pool.spec.label}: {invocation.outcome}: {invocation.error}")
        return invocation.result

    gateway.add_timer(every, run, pool.spec.label)


def _event_sources(
    spec: LocalSpec, pools: dict[str, FunctionPool], queues: dict[str, LocalQueue], client: SQSClient, cap: int
) -> list[SqsEventSource]:
    """A poller per enabled SQS event source mapping, as concurrent as the mapping, the function or the cap allow."""
    pollers = []
    for source in spec.event_sources:
        function = spec.function(source.function)
        queue = spec.queues[source.queue]
        if not source.enabled:
            log.info("sqs        %s <- %s: the mapping is disabled", function.label, queue.name)
            continue
        limits = [source.maximum_concurrency, function.reserved_concurrency or cap]
        concurrency = min(limit for limit in limits if limit is not None)
        poller = SqsEventSource(
            source, queue, queues[source.queue], pools[function.label], client, region=REGION, concurrency=concurrency
        )
        log.info(
            "sqs        %s: batches of %d, %d at once%s",
            poller.name,
            source.batch_size,
            concurrency,
            ", partial batch failures (ReportBatchItemFailures)" if source.report_batch_item_failures else "",
        )
        pollers.append(poller)
    return pollers


def _queue_label(queue: QueueSpec) -> str:
    if queue.dead_letter_queue is None:
        return queue.name
    return f"{queue.name} (dead letters after {queue.max_receive_count} receives)"


def _moto_client(service: str, endpoint: str, credentials: Credentials) -> Any:
    """A boto3 client of ``service`` on the moto server, signing with the stack's credentials."""
    import boto3

    return boto3.client(
        service,  # type: ignore[call-overload]  # one of the services moto stands in for
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id=credentials.access_key,
        aws_secret_access_key=credentials.secret_key,
        aws_session_token=credentials.token,
    )


def _sqs_client(endpoint: str, credentials: Credentials) -> SQSClient:
    client: SQSClient = _moto_client("sqs", endpoint, credentials)
    return client


def _create_queues(client: SQSClient, queues: list[QueueSpec]) -> dict[str, LocalQueue]:
    """The template's queues in moto's SQS, then each one's redrive policy to its dead-letter queue."""
    created: dict[str, LocalQueue] = {}
    for queue in queues:
        attributes = {
            "VisibilityTimeout": str(queue.visibility_timeout),
            "MessageRetentionPeriod": str(queue.retention),
            "DelaySeconds": str(queue.delay),
        }
        if queue.fifo:
            attributes["FifoQueue"] = "true"
            attributes["ContentBasedDeduplication"] = str(queue.content_based_deduplication).lower()
        url = client.create_queue(QueueName=queue.name, Attributes=attributes)["QueueUrl"]  # type: ignore[arg-type]
        arn = client.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        created[queue.logical_id] = LocalQueue(url=url, arn=arn, name=queue.name)
    for queue in queues:
        if queue.dead_letter_queue is not None:
            target = created[queue.dead_letter_queue].arn
            policy = {"deadLetterTargetArn": target, "maxReceiveCount": queue.max_receive_count}
            client.set_queue_attributes(
                QueueUrl=created[queue.logical_id].url, Attributes={"RedrivePolicy": json.dumps(policy)}
            )
    return created


def _s3_client(endpoint: str, credentials: Credentials) -> S3Client:
    client: S3Client = _moto_client("s3", endpoint, credentials)
    return client


def _create_tables(endpoint: str, credentials: Credentials, tables: list[TableSpec]) -> None:
    """The template's tables in moto's DynamoDB: keys, indexes, billing, streams and TTL as declared."""
    client: DynamoDBClient = _moto_client("dynamodb", endpoint, credentials)
    for table in tables:
        props = table.properties
        request: dict[str, object] = {
            "TableName": table.name,
            "AttributeDefinitions": props["AttributeDefinitions"],
            "KeySchema": props["KeySchema"],
            "BillingMode": props.get("BillingMode", "PROVISIONED"),
        }
        for key in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes", "ProvisionedThroughput", "TableClass"):
            if key in props:
                request[key] = props[key]
        if request["BillingMode"] == "PROVISIONED" and "ProvisionedThroughput" not in request:
            request["ProvisionedThroughput"] = {"ReadCapacityUnits": 5, "WriteCapacityUnits": 5}
        if "StreamSpecification" in props:
            request["StreamSpecification"] = {"StreamEnabled": True, **props["StreamSpecification"]}
        client.create_table(**request)  # type: ignore[arg-type]
        ttl = props.get("TimeToLiveSpecification")
        if ttl and ttl.get("Enabled"):
            client.update_time_to_live(
                TableName=table.name, TimeToLiveSpecification={"AttributeName": ttl["AttributeName"], "Enabled": True}
            )


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S", stream=sys.stderr)
    if args.verbose:
        log.setLevel(logging.DEBUG)
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
