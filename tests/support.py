"""Test support shared by every desk: fresh databases and loopback ports (from ``bench/harness.py``),
staff personas and signing a test client in through the real login form.

Desk-specific helpers live in each desk's own ``tests/<desk>/support.py``; Playwright fixtures in
``tests/browser.py``. Nothing here is a fixture, so tests import from this module, never from a conftest.
"""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import subprocess
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from fastapi.testclient import TestClient

from bench import harness
from bench.harness import PG_ADMIN
from bench.harness import free_port as free_port  # loopback ports, as the benches find them
from tocsin.core.auth import upsert_staff

PASSWORD = "correct horse 42"
T = TypeVar("T")


def fresh_database_url(tmp_dir: Path, kind: str) -> str:
    """A new empty database of ``kind`` (sqlite or postgresql) for this run."""
    if kind == "sqlite":
        return f"sqlite:///{tmp_dir / f'test-{uuid.uuid4().hex[:8]}.db'}"
    if kind == "postgresql":
        try:
            return harness.create_database(PG_ADMIN, prefix="tocsin_test")
        except Exception as error:  # say exactly what is missing rather than skip
            pytest.exit(f"PostgreSQL is needed at {PG_ADMIN} for TOCSIN_TEST_DATABASE=postgresql: {error}", 3)
    raise ValueError(f"TOCSIN_TEST_DATABASE: unknown kind {kind!r} (sqlite or postgresql)")


def drop_database(url: str) -> None:
    """Drop a PostgreSQL database made by ``fresh_database_url`` (a SQLite file goes with its folder)."""
    if url.startswith("postgresql"):
        harness.drop_database(url, PG_ADMIN)


def wait_until(condition: Callable[[], T], *, what: str, timeout: float = 15.0) -> T:
    """Poll ``condition`` until it gives a true value, and return it; fail naming ``what`` after
    ``timeout`` seconds (background work is awaited this way, never with a fixed sleep)."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: still not true after {timeout} s")
        time.sleep(0.02)


def run_async(coroutine: Any, *, timeout: float = 120.0) -> Any:
    """``asyncio.run`` on a thread of its own: a browser test of the same worker leaves Playwright's event
    loop running on the main thread, where ``asyncio.run`` refuses to start."""
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            outcome["value"] = asyncio.run(coroutine)
        except BaseException as error:  # handed back to the caller below
            outcome["error"] = error

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(timeout)
    assert not thread.is_alive(), f"the coroutine did not finish within {timeout} s"
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("value")


def second_writer_queues(database, write_first: Callable, write_second: Callable) -> None:
    """SQLite: while a first transaction holds the write lock after ``write_first(db)``, a second one
    calling ``write_second(db)`` waits in the process's writer queue (not on the file lock), then lands."""
    raw = database.engine.raw_connection()
    queue = raw.driver_connection.writers
    raw.close()
    holding, release, second_done = threading.Event(), threading.Event(), threading.Event()

    def first() -> None:
        with database.session() as db:
            write_first(db)
            holding.set()
            release.wait(30)

    def second() -> None:
        holding.wait(30)
        with database.session() as db:
            write_second(db)
        second_done.set()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    try:
        wait_until(lambda: queue.waiting == 1, what="the second writer to queue", timeout=10)
        assert not second_done.is_set()
    finally:
        release.set()
        for thread in threads:
            thread.join(timeout=30)
    assert second_done.is_set() and queue.waiting == 0


def make_staff(database, *, username: str, roles: list[str], password: str = PASSWORD) -> str:
    """Create (or update) a staff user with ``roles``; returns the password."""
    with database.session() as db:
        upsert_staff(db, username=username, password=password, roles=roles)
    return password


def csrf_of(html: str) -> str:
    """The session's CSRF token, read from a page's first form or its ``data-csrf`` attribute."""
    found = re.search(r'name="csrf" value="([^"]+)"', html) or re.search(r'data-csrf="([^"]+)"', html)
    assert found, "no CSRF token in the page"
    return found.group(1)


def submit_login_form(client: TestClient, username: str, password: str = PASSWORD) -> None:
    """Sign an existing staff user in through the login form (for tests of signing in itself)."""
    token = csrf_of(client.get("/login").text)
    reply = client.post(
        "/login", data={"username": username, "password": password, "csrf": token}, follow_redirects=False
    )
    assert reply.status_code == 303, reply.text


def sign_in(client: TestClient, database, username: str, roles: list[str]) -> str:
    """Create a staff user with ``roles``, sign the client in as that user, and return the session's CSRF
    token (signing in starts a fresh session, so a client may sign in again as someone else)."""
    make_staff(database, username=username, roles=roles)
    submit_login_form(client, username)
    return csrf_of(client.get("/login").text)


def pdf_text(pdf: bytes) -> str:
    """A PDF's text as a reader reads it: pdftotext (poppler-utils) in drawing order, each cell's
    wrapped lines joined by single spaces, pages split by form feeds."""
    tool = shutil.which("pdftotext")
    assert tool, "pdftotext is missing: run scripts/ensure-system.sh (Debian package poppler-utils)"
    raw = subprocess.run([tool, "-raw", "-", "-"], input=pdf, capture_output=True, check=True).stdout.decode()
    return "\f".join(
        " ".join(page.replace("\u202f", " ").replace("\u00a0", " ").split()) for page in raw.split("\f")
    )


class EventStream:
    """A server-sent event stream read over real HTTP (httpx), one event at a time with a deadline.

    ``next_event`` returns ``{"id": int | None, "event": str, "data": parsed JSON}``; comment lines
    (keep-alives) and the ``retry`` field are skipped."""

    def __init__(self, client, url: str, *, last_event_id: int | None = None, timeout: float = 15.0) -> None:
        headers = {"Accept": "text/event-stream"}
        if last_event_id is not None:
            headers["Last-Event-ID"] = str(last_event_id)
        self._context = client.stream("GET", url, headers=headers, timeout=httpx.Timeout(10, read=timeout))
        self.response = self._context.__enter__()
        self._lines = self.response.iter_lines()

    def next_event(self) -> dict:
        found: dict = {"id": None, "event": "message", "data": None}
        data: list[str] = []
        for line in self._lines:
            if line == "":
                if data:
                    found["data"] = json.loads("\n".join(data))
                    return found
                continue
            name, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if name == "id":
                found["id"] = int(value)
            elif name == "event":
                found["event"] = value
            elif name == "data":
                data.append(value)
        raise AssertionError("the event stream ended")

    def close(self) -> None:
        self._context.__exit__(None, None, None)

    def __enter__(self) -> EventStream:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()
