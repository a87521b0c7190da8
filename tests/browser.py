"""Playwright fixtures shared by every desk: the app under a real uvicorn server on loopback, headless
Chromium, and a helper that signs a staff user in through the login form of a browser page.

Registered for every test by ``pytest_plugins`` in tests/conftest.py, so one Chromium serves the run
(two sync Playwright instances cannot live in one process); import only ``LiveServer``, ``sign_in_page``
and ``wait_for_script``, never the fixtures.

``base_url`` serves the same ``app`` fixture (test ``database``, ``clock`` and ``settings``), so a test
can build data through the ``client`` fixture or the database and then look at it in the browser.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
import uvicorn

from tests.support import free_port, make_staff

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


class LiveServer:
    """A uvicorn server running an ASGI app in a background thread."""

    def __init__(self, app: object) -> None:
        self.port = free_port()
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="off")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="live-server", daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        """Start serving and return once the socket accepts connections."""
        self.thread.start()
        ready = threading.Event()
        while not ready.wait(0.02):
            if self.server.started:
                ready.set()
            elif not self.thread.is_alive():
                raise RuntimeError("the live server stopped before it started")

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture
def live_server(app) -> Iterator[LiveServer]:
    """The test app served over real HTTP on a free loopback port."""
    server = LiveServer(app)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def base_url(live_server: LiveServer) -> str:
    """Where the browser finds the app, e.g. ``http://127.0.0.1:54321``."""
    return live_server.base_url


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    """One headless Chromium for the whole run."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, base_url: str) -> Iterator[object]:
    """A fresh browser context (no cookies) whose relative URLs go to the live server."""
    context = browser.new_context(base_url=base_url, locale="en-GB")
    tab = context.new_page()
    yield tab
    context.close()


def wait_for_script(page, expression: str, *, what: str, timeout: float = 15.0) -> None:
    """Poll a JavaScript expression until it is true, with a deadline. (Playwright's wait_for_function
    compiles its predicate with eval, which the pages' Content-Security-Policy forbids.)"""
    import time

    deadline = time.monotonic() + timeout
    while not page.evaluate(expression):
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: {expression} still false after {timeout} s")
        page.wait_for_timeout(50)


def sign_in_page(page, database, username: str, roles: list[str]) -> None:
    """Create a staff user with ``roles`` and sign the browser page in through the real login form."""
    password = make_staff(database, username=username, roles=roles)
    page.goto("/login")
    page.get_by_label("User name").fill(username)
    page.get_by_label("Password").fill(password)
    page.locator("main form[action='/login'] button[type=submit]").click()
    page.wait_for_url(lambda url: "/login" not in url)
