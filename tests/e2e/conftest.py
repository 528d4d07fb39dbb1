"""Browser tests: one headless Chromium (Debian's) per session, driving the web UI of a running local stack."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from chat_local.postgres import EmbeddedPostgres
from playwright.sync_api import Browser, BrowserContext, Page, Route, StorageState, ViewportSize, sync_playwright

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
REPO = Path(__file__).resolve().parents[2]
SCREENSHOTS = REPO / "tests" / "output" / "screenshots"
DESKTOP: ViewportSize = {"width": 1280, "height": 800}
PHONE: ViewportSize = {"width": 375, "height": 740}

# axe-core, from npm, pinned; installed into a cache folder the first time (the registry is reachable).
AXE_VERSION = "4.14.1"
AXE_CACHE = Path(os.environ.get("AXE_CACHE_DIR", Path.home() / ".cache" / "chat-tests" / f"axe-core-{AXE_VERSION}"))
# Served from the app's own origin, so the page's CSP (script-src 'self') stays as strict as in production.
AXE_URL_PATH = "/__e2e__/axe.min.js"

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
    status, body = api.call("GET", "/conversations", token=account.token)
    assert status == 200, body
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


@pytest.fixture(scope="session")
def axe_script() -> Path:
    """axe-core's browser bundle: ``AXE_CORE_JS`` if set, else the pinned version from npm, cached."""
    if override := os.environ.get("AXE_CORE_JS"):
        path = Path(override)
        if not path.is_file():
            pytest.fail(f"AXE_CORE_JS={override} is not a file")
        return path
    script = AXE_CACHE / "node_modules" / "axe-core" / "axe.min.js"
    if script.is_file():
        return script
    npm = shutil.which("npm")
    if npm is None:
        pytest.fail(
            "The accessibility checks need axe-core from npm and npm is not installed: install Node.js "
            f"(apt-get install -y npm), or run `npm install --prefix {AXE_CACHE} axe-core@{AXE_VERSION}` "
            "elsewhere and set AXE_CORE_JS to its node_modules/axe-core/axe.min.js"
        )
    AXE_CACHE.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(
        [npm, "install", "--prefix", str(AXE_CACHE), "--no-audit", "--no-fund", "--no-save", f"axe-core@{AXE_VERSION}"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if result.returncode != 0 or not script.is_file():
        pytest.fail(
            f"Could not install axe-core@{AXE_VERSION} with npm into {AXE_CACHE} (is the npm registry reachable?). "
            f"npm said:\n{result.stdout}\n{result.stderr}\n"
            "Install it by hand with the command above, or set AXE_CORE_JS."
        )
    return script


@pytest.fixture
def open_page(browser: Browser, stack: StackProcess, axe_script: Path) -> Iterator[OpenPage]:
    """Open a page in a new browser context (a separate person: own localStorage); all closed after the test.

    ``dark=True`` asks for the dark colour scheme; ``storage_state`` (from ``context.storage_state()``) opens
    the browser again with what an earlier one kept, as after a restart. Every context serves axe-core at
    ``AXE_URL_PATH`` (for ``tests.e2e.ui.assert_accessible``). An uncaught JavaScript error in any page fails
    the test.
    """
    contexts: list[BrowserContext] = []
    errors: list[str] = []

    def serve_axe(route: Route) -> None:
        route.fulfill(path=axe_script, content_type="application/javascript")

    def watch(page: Page) -> None:
        page.on("pageerror", lambda error: errors.append(f"{page.url}: {error}"))

    def open_(
        viewport: ViewportSize | None = None,
        *,
        dark: bool = False,
        fake_clock: bool = False,
        storage_state: StorageState | None = None,
    ) -> Page:
        context = browser.new_context(
            viewport=viewport or DESKTOP,
            base_url=stack.url,
            color_scheme="dark" if dark else "light",
            storage_state=storage_state,
        )
        context.set_default_timeout(10_000)
        context.route(f"{stack.url}{AXE_URL_PATH}", serve_axe)
        if fake_clock:
            context.clock.install()  # timers run in real time until the test fast-forwards them
        context.on("page", watch)
        contexts.append(context)
        return context.new_page()

    yield open_
    for context in contexts:
        context.close()
    assert errors == [], f"uncaught errors in the page: {errors}"


@pytest.fixture(scope="session")
def screenshots() -> Path:
    """Where the tests save screenshots as they go (tests/output/ is not committed)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS
