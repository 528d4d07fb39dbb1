"""Load without loss, and faults in the middle of it: clients, rooms and messages over the local stack.

The normal suite runs about 50 clients; the full run (200 clients in 4 rooms, 25 messages each)
is ``LOAD_CLIENTS=200 LOAD_MESSAGES=25 uv run pytest tests/load -k exactly_once -s`` (see the README).
"""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import pytest
from chat_local.postgres import EmbeddedPostgres
from chat_local.processes import free_port

from tests.helpers.clients import Api
from tests.helpers.stack import StackProcess
from tests.load.loadgen import Progress, register_accounts, run_load, verify

CLIENTS = int(os.environ.get("LOAD_CLIENTS", "48"))
MESSAGES = int(os.environ.get("LOAD_MESSAGES", "8"))
ROOMS = 4

# The offered load stays under what the local stack absorbs on two cores (bench/results/RESULTS.md's
# capacity sweep: 30 messages a second into a room of 50, with a container process per warm Lambda):
# a queue that only grows would measure the laptop, not the system. Up to 48 clients each sends every
# 1-6 s; a bigger crowd sends proportionally less often, about 25 messages a second in all (the full run
# of 200 clients sends for about 4.5 minutes; it was 15 a second before moto's projected Query stopped
# copying every item, 7.5 with handlers as threads).
PACE = 1.0 if CLIENTS <= 48 else CLIENTS / 87
INTERVAL = (1.0 * PACE, 6.0 * PACE)
SENDING_SECONDS = MESSAGES * INTERVAL[1]
DELIVERIES = CLIENTS * MESSAGES * CLIENTS / ROOMS


@pytest.mark.timeout(int(300 + SENDING_SECONDS + DELIVERIES / 200))
def test_load_every_receiver_gets_every_message_exactly_once(
    stack: StackProcess, api: Api, stack_database: str
) -> None:
    """~50 clients in 4 rooms sending with clientMsgId: no loss, no duplicate, one order, DB = acknowledged."""
    accounts = register_accounts(api, CLIENTS)
    rooms = [api.create_group(accounts[i], f"load-{i}") for i in range(ROOMS)]
    result = asyncio.run(
        run_load(
            ws_url=stack.ws_url,
            accounts=accounts,
            rooms=rooms,
            messages_each=MESSAGES,
            interval=INTERVAL,
            settle_timeout=max(120.0, DELIVERIES / 200),
        )
    )
    print(result.summary())
    verify(result, stack_database, live_exactly_once=True)
    assert all(not c.errors for c in result.clients), [dict(c.errors) for c in result.clients if c.errors]


def test_postgres_outage_mid_load_loses_nothing_acknowledged(
    stack: StackProcess, api: Api, stack_database: str, pg_server: EmbeddedPostgres
) -> None:
    """PostgreSQL stops mid-run: senders get save_failed, retry after it is back, and nothing is lost."""
    accounts = register_accounts(api, 16)
    rooms = [api.create_group(accounts[i], f"outage-{i}") for i in range(2)]

    async def outage(progress: Progress) -> None:
        await progress.until(lambda: progress.acknowledged() >= 10)  # the load is under way
        pg_server.stop()
        await progress.until(lambda: progress.errors("save_failed") >= 3)  # and the outage is felt
        pg_server.start()  # on this (the main) thread, which outlives the server

    result = asyncio.run(
        run_load(
            ws_url=stack.ws_url, accounts=accounts, rooms=rooms, messages_each=8, interval=(0.5, 2.0), during=outage
        )
    )
    print(result.summary())
    assert sum(c.errors["save_failed"] for c in result.clients) > 0  # the outage was felt
    verify(result, stack_database, live_exactly_once=False)


def test_gateway_killed_and_restarted_mid_load_clients_catch_up(tmp_path: Path, stack_database: str) -> None:
    """The local gateway is killed (SIGKILL) and restarted: clients reconnect, resend and catch up."""
    port = free_port()
    env = {"DATABASE_URL": stack_database}

    def start() -> StackProcess:
        return StackProcess(tmp_path / "data", "--port", str(port), env=env, log_path=tmp_path / "stack.log").start()

    first = start()
    api = Api(first.api_url)
    accounts = register_accounts(api, 12)
    rooms = [api.create_group(accounts[i], f"restart-{i}") for i in range(2)]
    holder = {"stack": first}

    async def crash_and_restart(progress: Progress) -> None:
        await progress.until(lambda: progress.acknowledged() >= 10)  # the load is under way
        process = holder["stack"].process
        assert process is not None
        process.kill()
        await asyncio.to_thread(process.wait, 10)
        holder["stack"] = await asyncio.to_thread(start)

    try:
        started = time.monotonic()
        result = asyncio.run(
            run_load(
                ws_url=first.ws_url,
                accounts=accounts,
                rooms=rooms,
                messages_each=8,
                interval=(0.5, 2.0),
                during=crash_and_restart,
            )
        )
        print(result.summary(), f"({time.monotonic() - started:.1f}s)")
    finally:
        holder["stack"].stop()
    assert sum(c.reconnects for c in result.clients) >= len(accounts)  # every client lost its socket
    verify(result, stack_database, live_exactly_once=False)
