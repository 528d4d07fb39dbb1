"""Browser tests: one headless Chromium (Debian's) per session, driving the web UI of a running local stack."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from chat_local.postgres import EmbeddedPostgres
from playwright.sync_api import Browser, Page, ViewportSize, sync_playwright

from tests.helpers.clients import Api, ChatClient
from tests.helpers.stack import StackProcess

CHROMIUM = Path(os.environ.get("CHROMIUM_PATH", "/usr/lib/chromium/chromium"))
# Playwright cannot download its own browsers here; these flags keep Debian's Chromium quiet and offline.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
SCREENSHOTS = Path(__file__).resolve().parents[1] / "output" / "screenshots"
DESKTOP: ViewportSize = {"width": 1280, "height": 800}
PHONE: ViewportSize = {"width": 375, "height": 740}

OpenPage = Callable[..., Page]


@pytest.fixture(scope="package")
def stack(tmp_root: Path, pg_server: EmbeddedPostgres) -> Iterator[StackProcess]:
    """A ``chat-local`` of its own for the browser tests, on its own database of the session PostgreSQL.

    Package-scoped: it (and the browser) stop once the browser tests are done, not at the end of the run.
    """
    database_url = pg_server.create_database("e2e", template="chat_template")
    process = StackProcess(
        tmp_root / "e2e-stack-data",
        "--prune-interval",
        "3600",
        env={"DATABASE_URL": database_url},
        log_path=tmp_root / "e2e-stack.log",
    ).start()
    try:
        _warm_up(process)
        yield process
    finally:
        process.stop()


def _warm_up(stack: StackProcess) -> None:
    """Invoke every function once: a cold start (imports, first database connection) can take seconds on a
    busy CI machine, and the tests' one-second checks should time the UI, not that."""
    api = Api(stack.api_url)
    account = api.register("warmup")
    room_id = api.create_group(account, "warm-up")
    client = ChatClient(stack.ws_url, account.token)
    try:
        client.request({"type": "join", "roomId": room_id}, "joined")
        client.request({"type": "message", "roomId": room_id, "text": "warm"}, "message")
    finally:
        client.close()


@pytest.fixture
def api(stack: StackProcess) -> Api:
    return Api(stack.api_url)


@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    """Debian's Chromium, launched once for all browser tests (each test gets fresh contexts)."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium), see TOOLING.md")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def open_page(browser: Browser, stack: StackProcess) -> Iterator[OpenPage]:
    """Open a page in a new browser context (a separate person: own sessionStorage); all closed after the test.

    An uncaught JavaScript error in any page fails the test.
    """
    contexts = []
    errors: list[str] = []

    def open_(viewport: ViewportSize | None = None, *, fake_clock: bool = False) -> Page:
        context = browser.new_context(viewport=viewport or DESKTOP, base_url=stack.url)
        context.set_default_timeout(10_000)
        if fake_clock:
            context.clock.install()  # timers run in real time until the test fast-forwards them
        contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda error: errors.append(f"{page.url}: {error}"))
        return page

    yield open_
    for context in contexts:
        context.close()
    assert errors == [], f"uncaught errors in the page: {errors}"


@pytest.fixture(scope="session")
def screenshots() -> Path:
    """Where the tests save screenshots for the README (tests/output/ is not committed)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS
