"""Faults the source insists on: the dispatch server is killed (SIGKILL) while the quarry runs and is
started again; every alarm the base-station engine raised meanwhile is there afterwards, through the
JSON API a SCADA reads with its token. Detection never depended on the server: the ingestion kept
storing while it was down."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from tests.minesafe.runner_thread import RunnerThread
from tests.support import free_port, wait_until
from tocsin.core.auth.partners import upsert_client
from tocsin.core.db import Database
from tocsin.core.migrate import upgrade
from tocsin.minesafe import store
from tocsin.minesafe.ingest import simulated
from tocsin.minesafe.ingest.pipeline import Ingestion
from tocsin.minesafe.ingest.recorder import Recorder
from tocsin.minesafe.ingest.runner import Listen, Running, build, feed_simulation, run
from tocsin.minesafe.model import AlarmEvent
from tocsin.minesafe.site import load_example_site

pytestmark = pytest.mark.slow
TOCSIN = str(Path(sys.executable).with_name("tocsin"))
SITE = load_example_site()


class Server:
    """``tocsin serve`` in a process group of its own."""

    def __init__(self, url: str, home: Path) -> None:
        self.port, self.home = free_port(), home
        self.env = {
            **os.environ,
            "TOCSIN_DATABASE_URL": url,
            "TOCSIN_SECRET_KEY": "fault-test-secret-key-0123456789abcdef",
            "TOCSIN_DESKS": "minesafe",
            "TOCSIN_FILES_DIR": str(home / "files"),
        }
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        log = (self.home / "serve.log").open("ab")
        self.process = subprocess.Popen(
            [TOCSIN, "serve", "--port", str(self.port)],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        wait_until(self._answers, what="the dispatch server", timeout=60)

    def _answers(self) -> bool:
        assert self.process is not None and self.process.poll() is None, (self.home / "serve.log").read_text()
        try:
            return httpx.get(f"http://127.0.0.1:{self.port}/healthz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def kill(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=15)

    def alarm_keys(self) -> set[str]:
        url = f"http://127.0.0.1:{self.port}"
        token = httpx.post(
            f"{url}/oauth/token", data={"grant_type": "client_credentials"}, auth=("scada", "s" * 24)
        ).json()["access_token"]
        answer = httpx.get(f"{url}/minesafe/api/alarms", headers={"Authorization": f"Bearer {token}"})
        assert answer.status_code == 200, answer.text
        return {
            "|".join([a["type"], ",".join(sorted(a["trackers"])), a.get("zone") or ""]) for a in answer.json()
        }


def test_alarms_raised_while_the_dispatch_server_is_down_are_all_there_after_its_restart(tmp_path):
    url = f"sqlite:///{tmp_path}/mine.db"
    database = Database(url)
    upgrade(database)
    with database.session() as db:
        scopes = ["read:minesafe", "write:minesafe"]
        now = datetime.now(UTC)
        upsert_client(
            db, client_id="scada", secret="s" * 24, owner="SCADA", scopes=scopes, managed_by="t", now=now
        )
    server = Server(url, tmp_path)
    server.start()

    raised: list[AlarmEvent] = []
    ingestion = Ingestion({SITE.name: SITE}, simulated.gateways(SITE))
    recorder = Recorder(database, {SITE.name: SITE})

    def take(events: list[AlarmEvent]) -> None:
        raised.extend(e for e in events if e.state == "raised")
        recorder.add_events(events)

    service = build(ingestion, on_events=take, on_reports=recorder.add_reports)
    running = Running(service)
    feed = lambda: feed_simulation(service, SITE, broker=None, rounds=1, seconds=120, speed=20.0)  # noqa: E731
    thread = RunnerThread(running, run(service, Listen(None, None, None), running, recorder, also=[feed]))
    thread.start()
    try:
        wait_until(lambda: raised, what="the first alarms", timeout=30)
        server.kill()
        before = len(raised)
        wait_until(
            lambda: len(raised) > before + 3, what="alarms raised while the server is down", timeout=60
        )
        server.start()
        expected = {store.alarm_key(event) for event in raised}
        wait_until(lambda: expected <= server.alarm_keys(), what="every alarm through the API", timeout=30)
    finally:
        thread.stop()
        server.kill()
    assert len(expected) > 3 and recorder.failures == 0
