"""Benchmark 5, sizes and cost: the deployment packages, and what a million chat messages cost in AWS.

**Sizes.** The layer is built the way the CDK app builds it (``infra.chat_infra.layer.build_layer``:
the pinned requirements installed for x86_64 manylinux and CPython 3.12, binary wheels only, with the
runtime-provided boto3 family removed, then ``chatcore`` copied in), into a scratch folder; if the
infra package cannot be imported, the same ``uv pip install`` command is run directly. Each function's
folder is zipped as CDK would (``__pycache__`` excluded). Unzipped and zipped bytes are reported
against Lambda's limits (250 MB unzipped for a function and its layers).

**Cost.** A model, stated in full below, of the AWS bill per million chat messages in rooms of 2, 10
and 100 connections, from list prices and the measurements of this run: the ``message`` handler's
duration per room size from benchmark 2 (the local stack's log) and the fan-out CPU per recipient from
benchmark 1.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import zipfile
from pathlib import Path
from typing import Any

from bench.common import REPO_ROOT, Section, fmt, md_table, median, progress

LAYER_SOURCE = REPO_ROOT / "layers" / "common"
FUNCTIONS_DIR = REPO_ROOT / "functions"
LAMBDA_UNZIPPED_LIMIT = 250 * 1024 * 1024
MB = 1024 * 1024

#: AWS list prices assumed (us-east-1, on-demand, as published in 2025).
PRICES = {
    "apigw_message_per_million": 1.00,
    "apigw_connection_minutes_per_million": 0.25,
    "lambda_requests_per_million": 0.20,
    "lambda_gb_second": 0.0000166667,
    "dynamodb_wru_per_million": 0.625,
    "dynamodb_rru_per_million": 0.125,
    "data_transfer_out_per_gb": 0.09,
    "nat_processing_per_gb": 0.045,
    "rds_t4g_micro_per_hour": 0.016,
    "rds_gp3_per_gb_month": 0.115,
    "rds_proxy_per_vcpu_hour": 0.015,
    "nat_gateway_per_hour": 0.045,
    "secrets_per_month": 0.40,
}
HOURS_PER_MONTH = 730

#: How the chat is used, for the parts of the bill that depend on it.
USAGE = {
    "function_memory_mb": 512,
    "minutes_connected_per_message": 10.0,
    "ping_interval_minutes": 5.0,
    "frame_bytes": 450,
    "post_request_bytes": 1100,
    "subscription_item_bytes": 160,
    "messages_per_month_for_fixed_costs": 10_000_000,
    "broadcast_workers": 32,
    "post_latency_ms": 15.0,
    "db_storage_gb": 20,
}
ROOM_SIZES = (2, 10, 100)


# ---------------------------------------------------------------- sizes


def _folder_bytes(root: Path) -> tuple[int, int]:
    files = [p for p in root.rglob("*") if p.is_file()]
    return sum(p.stat().st_size for p in files), len(files)


def _zipped_bytes(root: Path, out: Path) -> int:
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(root.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                archive.write(path, path.relative_to(root))
    return out.stat().st_size


def build_layer(target: Path) -> str:
    """Build the layer into ``target`` as the CDK app does; returns how it was built."""
    os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
    try:
        from infra.chat_infra.layer import build_layer as cdk_build_layer
    except Exception as exc:  # the infra package is optional for the benchmark
        progress(f"sizes: infra's build_layer unavailable ({type(exc).__name__}); installing directly")
    else:
        build = cdk_build_layer(target)
        return f"`infra.chat_infra.layer.build_layer` ({build.installer}; removed {', '.join(build.removed)})"
    site = target / "python"
    site.mkdir(parents=True)
    command = [
        shutil.which("uv") or "uv",
        "pip",
        "install",
        "--quiet",
        "--python-platform",
        "x86_64-manylinux2014",
        "--python-version",
        "3.12",
        "--only-binary",
        ":all:",
        "--target",
        str(site),
        "aws-lambda-powertools[parser,tracer]",
        "pydantic",
        "psycopg[binary]",
        "pyjwt",
    ]
    subprocess.run(command, check=True, capture_output=True)
    shutil.copytree(
        LAYER_SOURCE / "python" / "chatcore", site / "chatcore", ignore=shutil.ignore_patterns("__pycache__")
    )
    return "`uv pip install` (x86_64-manylinux2014, CPython 3.12, binary wheels; boto3 family kept)"


def _biggest(site: Path, count: int = 8) -> list[tuple[str, int]]:
    sizes: dict[str, int] = {}
    for entry in site.iterdir():
        if entry.name.endswith(".dist-info") or entry.name == "__pycache__":
            continue
        name = entry.name.removesuffix(".py")
        sizes[name] = entry.stat().st_size if entry.is_file() else _folder_bytes(entry)[0]
    return sorted(sizes.items(), key=lambda kv: kv[1], reverse=True)[:count]


def measure_sizes(work_dir: Path) -> dict[str, Any]:
    work_dir.mkdir(parents=True, exist_ok=True)
    layer_root = work_dir / "layer"
    progress("sizes: building the layer")
    how = build_layer(layer_root)
    unzipped, files = _folder_bytes(layer_root)
    zipped = _zipped_bytes(layer_root, work_dir / "layer.zip")
    functions = {}
    for folder in sorted(p.parent for p in FUNCTIONS_DIR.glob("*/handler.py")):
        size = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
        functions[folder.name] = {"unzipped": size, "zipped": _zipped_bytes(folder, work_dir / f"{folder.name}.zip")}
    return {
        "how": how,
        "layer": {"unzipped": unzipped, "zipped": zipped, "files": files},
        "biggest": _biggest(layer_root / "python"),
        "functions": functions,
    }


# ---------------------------------------------------------------- cost


def _load(out_dir: Path, name: str) -> dict[str, Any] | None:
    path = out_dir / "data" / f"{name}.json"
    return json.loads(path.read_text())["data"] if path.exists() else None


def handler_ms(out_dir: Path) -> tuple[dict[int, float], str]:
    """The ``message`` handler's median duration per room size, from benchmark 2 when it ran.

    A room size benchmark 2 did not time (``--quick`` uses fewer clients) is extrapolated linearly from
    the two largest it did.
    """
    e2e = _load(out_dir, "e2e")
    by_size = (e2e or {}).get("ours", {}).get("handler_ms_by_room_size", {})
    found = {int(size): median(values) for size, values in by_size.items() if values}
    if len(found) < 2:
        # Without benchmark 2's data: a stated guess, not a measurement.
        return {2: 40.0, 10: 45.0, 100: 150.0}, "**assumed** (benchmark 2 did not run): 40, 45 and 150 ms"
    (n1, t1), (n2, t2) = sorted(found.items())[-2:]
    slope = (t2 - t1) / (n2 - n1)
    missing = [size for size in ROOM_SIZES if size not in found]
    durations = {size: found.get(size, t2 + slope * (size - n2)) for size in ROOM_SIZES}
    source = "measured by benchmark 2 (the local stack's log, 0 ms Management API latency, 2 messages/s)"
    if missing:
        source += f"; rooms of {', '.join(map(str, missing))} extrapolated from rooms of {n1} and {n2}"
    return durations, source


def cost_rows(durations: dict[int, float]) -> list[dict[str, float]]:
    p, u = PRICES, USAGE
    gb = u["function_memory_mb"] / 1024
    pings = u["minutes_connected_per_message"] / u["ping_interval_minutes"]
    rows = []
    for size in ROOM_SIZES:
        per_message: dict[str, float] = {}
        # API Gateway: the sender's frame in, one frame out to each connection; pings in, pongs out.
        per_message["apigw_messages"] = (1 + size + 2 * pings) * p["apigw_message_per_million"] / 1e6
        per_message["apigw_minutes"] = (
            u["minutes_connected_per_message"] * p["apigw_connection_minutes_per_million"] / 1e6
        )
        # Lambda: the message invocation, plus one (short) invocation per ping.
        per_message["lambda_requests"] = (1 + pings) * p["lambda_requests_per_million"] / 1e6
        seconds = durations[size] / 1000 + pings * 0.010
        per_message["lambda_duration"] = seconds * gb * p["lambda_gb_second"]
        # DynamoDB: count_frame is an UpdateItem of the connection item (1 WRU),
        # for the message and each ping; the room's connections are one eventually consistent Query.
        wru = 1 + pings
        rru = 0.5 * max(1, math.ceil(size * u["subscription_item_bytes"] / 4096))
        per_message["dynamodb"] = wru * p["dynamodb_wru_per_million"] / 1e6 + rru * p["dynamodb_rru_per_million"] / 1e6
        # Bytes: frames out to the clients; the Lambda's signed POSTs through the NAT gateway.
        per_message["data_out"] = size * u["frame_bytes"] / 1e9 * p["data_transfer_out_per_gb"]
        per_message["nat"] = size * u["post_request_bytes"] / 1e9 * p["nat_processing_per_gb"]
        per_million = {k: v * 1e6 for k, v in per_message.items()}
        per_million["variable"] = sum(per_million.values())
        per_million["fixed_share"] = fixed_monthly() / (u["messages_per_month_for_fixed_costs"] / 1e6)
        per_million["total"] = per_million["variable"] + per_million["fixed_share"]
        per_million["room_size"] = size
        per_million["handler_ms"] = durations[size]
        rows.append(per_million)
    return rows


def fixed_monthly() -> float:
    p, u = PRICES, USAGE
    return (
        p["rds_t4g_micro_per_hour"] * HOURS_PER_MONTH
        + p["rds_gp3_per_gb_month"] * u["db_storage_gb"]
        + 2 * p["rds_proxy_per_vcpu_hour"] * HOURS_PER_MONTH  # the proxy bills at least 2 vCPUs
        + p["nat_gateway_per_hour"] * HOURS_PER_MONTH
        + 2 * p["secrets_per_month"]
    )


def fanout_cpu_rows(out_dir: Path) -> list[list[str]]:
    """Fan-out CPU per recipient from benchmark 1, scaled to a 512 MB function's share of a vCPU."""
    fanout = _load(out_dir, "fanout")
    if not fanout:
        return []
    share = USAGE["function_memory_mb"] / 1769  # Lambda gives a full vCPU at 1,769 MB
    rows = []
    for mode, label in (("a", "boto3 `post_to_connection`"), ("b", "ours (signed keep-alive HTTP)")):
        cells = [r for r in fanout["rows"] if r["mode"] == mode and r["latency_ms"] == 0.0 and r["n"] >= 100]
        if not cells:
            continue
        cpu = median([c["cpu_ms_per_recipient"] for c in cells])
        per_100 = cpu * 100 / share
        rows.append(
            [
                label,
                fmt(cpu, 3),
                fmt(per_100, 0),
                fmt(per_100 / 1000 * USAGE["function_memory_mb"] / 1024 * PRICES["lambda_gb_second"] * 1e6, 2),
            ]
        )
    return rows


# ---------------------------------------------------------------- the benchmark


def run(quick: bool, out_dir: Path, work_dir: Path) -> Section:
    sizes = measure_sizes(work_dir)
    layer = sizes["layer"]
    progress(f"sizes: layer {layer['unzipped'] / MB:.1f} MB unzipped, {layer['zipped'] / MB:.1f} MB zipped")
    durations, source = handler_ms(out_dir)
    rows = cost_rows(durations)
    return _section(sizes, rows, source, fanout_cpu_rows(out_dir), quick)


def _section(
    sizes: dict[str, Any], rows: list[dict[str, float]], source: str, cpu_rows: list[list[str]], quick: bool
) -> Section:
    layer = sizes["layer"]
    size_rows = [
        [
            "layer `common`",
            fmt(layer["unzipped"] / MB, 2),
            fmt(layer["zipped"] / MB, 2),
            f"{layer['unzipped'] / LAMBDA_UNZIPPED_LIMIT * 100:.0f}% of 250 MB",
        ]
    ]
    for name, entry in sizes["functions"].items():
        size_rows.append(
            [f"function `{name}`", fmt(entry["unzipped"] / 1024, 1) + " KB", fmt(entry["zipped"] / 1024, 1) + " KB", ""]
        )
    size_table = md_table(["package", "unzipped MB", "zipped MB", "of Lambda's limit"], size_rows)
    biggest = ", ".join(f"{name} {size / MB:.1f} MB" for name, size in sizes["biggest"])
    cost_table = md_table(
        [
            "room size",
            "handler ms",
            "API GW messages",
            "API GW conn. minutes",
            "Lambda requests",
            "Lambda GB-s",
            "DynamoDB",
            "data out",
            "NAT processing",
            "variable total",
            "fixed share",
            "total",
        ],
        [
            [
                int(r["room_size"]),
                fmt(r["handler_ms"], 0),
                *[
                    "$" + fmt(r[key], 2)
                    for key in (
                        "apigw_messages",
                        "apigw_minutes",
                        "lambda_requests",
                        "lambda_duration",
                        "dynamodb",
                        "data_out",
                        "nat",
                        "variable",
                        "fixed_share",
                        "total",
                    )
                ],
            ]
            for r in rows
        ],
    )
    price_rows = [[key.replace("_", " "), f"${value:g}"] for key, value in PRICES.items()]
    usage_rows = [[key.replace("_", " "), f"{value:g}"] for key, value in USAGE.items()]
    cpu_table = (
        md_table(
            [
                "fan-out path",
                "CPU ms / recipient (here)",
                "ms per 100 recipients at 512 MB",
                "$ per million broadcasts to 100",
            ],
            cpu_rows,
        )
        if cpu_rows
        else "(benchmark 1 did not run)"
    )
    markdown = "\n\n".join(
        [
            f"Layer built with {sizes['how']}; {layer['files']:,} files. Biggest packages: {biggest}.",
            size_table,
            "### Cost per million chat messages",
            f"Handler durations: {source}. They include moto's DynamoDB, which is far slower than DynamoDB"
            " (a room's connections cost it ~1 ms per connection per query), and the emulator sharing two cores"
            " with everything else; in AWS, add the Management API's round trip, about"
            f" ceil(N / {USAGE['broadcast_workers']}) x {USAGE['post_latency_ms']:.0f} ms per broadcast. Fixed"
            f" costs (RDS {PRICES['rds_t4g_micro_per_hour']:g}/h db.t4g.micro + {USAGE['db_storage_gb']} GB gp3,"
            " RDS Proxy at its 2-vCPU minimum, one NAT gateway, two secrets) come to"
            f" ${fixed_monthly():.2f} a month, shared here over"
            f" {USAGE['messages_per_month_for_fixed_costs']:,} messages a month.",
            cost_table,
            "Usage assumed: each member is connected for"
            f" {USAGE['minutes_connected_per_message']:g} minutes per message they send (a room of N members"
            " sends N messages per 10 minutes), the web UI pings every"
            f" {USAGE['ping_interval_minutes']:g} minutes (a ping is a frame in, a pong out, a short Lambda"
            " invocation and a DynamoDB update), one connection per member. Not counted: typing and read"
            " frames, REST calls, CloudWatch logs and metrics, X-Ray, CloudFront, free tiers.",
            md_table(["usage", "value"], usage_rows),
            md_table(["price assumed (us-east-1, USD)", "value"], price_rows),
            "What the fan-out path itself costs in a 512 MB function (which gets 512/1,769 of a vCPU), from"
            " benchmark 1's CPU per recipient on this machine:",
            cpu_table,
        ]
    )
    return Section(
        name="sizes",
        title="5. Sizes and cost",
        markdown=markdown,
        data={"sizes": sizes, "cost_per_million": rows, "prices": PRICES, "usage": USAGE, "quick": quick},
    )
