"""Process helpers for the multi-party test: each party is a real ``tocsin`` deployment on loopback.

A ``Party`` has its own SQLite file, configuration and port, and starts ``tocsin serve`` and
``tocsin worker`` as separate process groups (so a kill takes their children too). The test reads a
party's database through a read-only SQLite connection, never through the party's own code paths.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from string import Template
from typing import TypeVar

import httpx
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from tests.support import csrf_of, free_port

TOCSIN = str(Path(sys.executable).with_name("tocsin"))
FIXTURES = Path(__file__).resolve().parent / "fixtures"
SECRET_KEY = "multi-party-secret-key-0123456789"
PASSWORD = "correct horse 42"
T = TypeVar("T")


def wait_until(check: Callable[[], T], *, timeout: float, what: str, every: float = 0.1) -> T:
    """Poll ``check`` until it returns something truthy; fail naming ``what`` after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting ({timeout:.0f} s) for {what}; last: {result!r}")
        time.sleep(every)


class Party:
    """One operator's deployment: database, configuration, web server and worker processes."""

    def __init__(self, code: str, root: Path, *, clamd: str) -> None:
        self.code, self.clamd = code, clamd
        self.home = root / code.lower()
        self.home.mkdir(parents=True)
        self.database = self.home / "tocsin.db"
        self.port = free_port()
        self.processes: dict[str, subprocess.Popen] = {}
        self.started = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "TOCSIN_DATABASE_URL": f"sqlite:///{self.database}",
            "TOCSIN_SECRET_KEY": SECRET_KEY,
            "TOCSIN_DESKS": "interventions",
            "TOCSIN_DEFAULT_LANGUAGE": "fr",
            "TOCSIN_DELIVERY_TIMEOUT": "3",
            "TOCSIN_LEASE_SECONDS": "5",
            "TOCSIN_FILES_DIR": str(self.home / "files"),
            "TOCSIN_CLAMD": self.clamd,
        }

    def command(self, *args: str, **env: str) -> str:
        """Run a ``tocsin`` command to completion; fail with its output if it fails."""
        done = subprocess.run(
            [TOCSIN, *args], env={**self.env(), **env}, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, f"{self.code}: tocsin {' '.join(args)}\n{done.stdout}\n{done.stderr}"
        return done.stdout

    def set_up(self, template: str, urls: dict[str, str], users: dict[str, str]) -> None:
        """Migrate, load the configuration rendered from ``template``, create the staff users."""
        config = self.home / "config.yaml"
        config.write_text(Template((FIXTURES / template).read_text()).substitute(urls), encoding="utf-8")
        self.command("migrate")
        self.command("interventions", "load-config", str(config))
        for name, roles in users.items():
            self.command("user", name, "--roles", roles, TOCSIN_NEW_PASSWORD=PASSWORD)

    def start(self, what: str, *, wait: bool = True) -> subprocess.Popen:
        """Start ``serve`` or ``worker`` in its own process group, its output in a log file."""
        self.started += 1
        worker = ["worker", "--name", f"{self.code}-{self.started}"]
        args = ["serve", "--port", str(self.port)] if what == "serve" else worker
        log = (self.home / f"{what}.log").open("ab")
        process = subprocess.Popen(
            [TOCSIN, *args], env=self.env(), stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        log.close()
        self.processes[what] = process
        if what == "serve" and wait:
            self.wait_serving()
        return process

    def wait_serving(self) -> None:
        """Return once the web server answers its health check."""
        wait_until(self._serving, timeout=60, what=f"{self.code} to serve on {self.url}", every=0.2)

    def _serving(self) -> bool:
        process = self.processes["serve"]
        assert process.poll() is None, f"{self.code} server exited:\n{self.log('serve')}"
        try:
            return httpx.get(f"{self.url}/healthz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def kill(self, what: str, sig: int = signal.SIGTERM) -> None:
        """Send ``sig`` to the process group of ``what`` and wait for it to end."""
        process = self.processes.pop(what, None)
        if process is None or process.poll() is not None:
            return
        try:
            os.killpg(process.pid, sig)
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=15)
        except ProcessLookupError:
            pass

    def stop(self) -> None:
        for what in list(self.processes):
            self.kill(what)

    def log(self, what: str) -> str:
        path = self.home / f"{what}.log"
        return path.read_text(errors="replace")[-4000:] if path.exists() else ""

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A read-only session on this party's database file."""
        engine = create_engine(f"sqlite:///file:{self.database}?mode=ro&uri=true")
        try:
            with Session(engine) as session:
                yield session
        finally:
            engine.dispose()

    def token(self, client_id: str, secret: str) -> dict[str, str]:
        """Authorization header of a partner client, from this party's token endpoint."""
        reply = httpx.post(
            f"{self.url}/oauth/token", data={"grant_type": "client_credentials"}, auth=(client_id, secret)
        )
        assert reply.status_code == 200, reply.text
        return {"Authorization": f"Bearer {reply.json()['access_token']}"}

    def staff(self, username: str) -> StaffBrowser:
        """A staff user signed in through the login form."""
        return StaffBrowser(self.url, username)


class StaffBrowser:
    """A signed-in staff session over HTTP: cookies, and the CSRF token pages carry."""

    def __init__(self, url: str, username: str) -> None:
        self.http = httpx.Client(base_url=url, timeout=10)
        token = csrf_of(self.http.get("/login").text)
        reply = self.http.post("/login", data={"username": username, "password": PASSWORD, "csrf": token})
        assert reply.status_code == 303, reply.text

    def csrf(self, page: str) -> str:
        return csrf_of(self.http.get(page).text)

    def close(self) -> None:
        self.http.close()
