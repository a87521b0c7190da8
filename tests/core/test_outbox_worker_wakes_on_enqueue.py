"""The outbox worker is woken by the live signal of ``enqueue`` instead of polling the table: a message
queued while it idles is delivered long before its next look, in-process and as a real ``tocsin worker``;
a message whose signal was lost is still delivered by the look it does now and then."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import insert, select

from tests.receiver import partner
from tests.support import wait_until
from tocsin.core import live, outbox
from tocsin.core.outbox import OutboxMessage, Worker

LONG_POLL = 60.0  # far longer than any deadline below: a delivery within it was not the poll's doing


class WatchedWorker(Worker):
    """A real worker that says when a claim found nothing (it is then idle until woken or its poll)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.idle = threading.Event()

    def claim(self, limit=None, inflight=None):
        claimed = super().claim(limit, inflight)
        if not claimed:
            self.idle.set()
        return claimed


@pytest.fixture
def receiver():
    with partner() as running:
        yield running


@pytest.fixture
def running_worker(database, clock):
    """A worker woken by a live listener on the test database, polling only every LONG_POLL seconds
    (or as the test sets ``poll``)."""
    started: list[tuple[WatchedWorker, live.Listener, threading.Thread]] = []

    def start(poll: float = LONG_POLL) -> WatchedWorker:
        woken = threading.Event()
        worker = WatchedWorker(database, schedule=[60], name="woken", clock=clock, timeout=2)
        listener = live.Listener(database.url, lambda topic: woken.set()).start()
        assert listener.listening.wait(10)
        thread = threading.Thread(target=worker.run, kwargs={"idle_sleep": poll, "woken": woken}, daemon=True)
        thread.start()
        started.append((worker, listener, thread))
        worker.woken = woken  # type: ignore[attr-defined]
        return worker

    yield start
    for worker, listener, thread in started:
        worker.stopping.set()
        worker.woken.set()  # type: ignore[attr-defined]
        thread.join(10)
        worker.close()
        listener.stop()


def status(database, message_id: int) -> str:
    with database.session() as db:
        return db.scalar(select(OutboxMessage.status).where(OutboxMessage.id == message_id))


def enqueue(database, clock, url: str) -> int:
    with database.session() as db:
        return outbox.enqueue(
            db, desk="test", kind="M2", partner="OC", url=url, payload={"n": 1}, stream="s", now=clock()
        )


def test_a_queued_message_wakes_the_idle_worker_long_before_its_next_poll(
    database, clock, receiver, running_worker
):
    worker = running_worker(poll=LONG_POLL)
    assert worker.idle.wait(10), "the worker never went idle"
    message_id = enqueue(database, clock, f"{receiver.url}/v1/x")
    wait_until(
        lambda: status(database, message_id) == "delivered", what="delivery after a wake-up", timeout=10
    )
    assert len(receiver.received) == 1


def test_a_message_whose_wake_up_was_lost_is_still_delivered_by_the_poll(
    database, clock, receiver, running_worker
):
    worker = running_worker(poll=0.5)
    assert worker.idle.wait(10)
    with database.session() as db:  # written without enqueue: no live signal ever tells the worker
        message_id = db.scalar(
            insert(OutboxMessage).values(_row(f"{receiver.url}/v1/x", clock())).returning(OutboxMessage.id)
        )
    wait_until(lambda: status(database, message_id) == "delivered", what="delivery by the poll", timeout=10)


def test_a_real_worker_process_is_woken_by_a_message_queued_elsewhere(database, clock, receiver, tmp_path):
    env = {
        **os.environ,
        "TOCSIN_DATABASE_URL": database.url,
        "TOCSIN_WORKER_POLL_SECONDS": str(LONG_POLL),
        "PYTHONPATH": os.pathsep.join(
            filter(None, [str(Path(__file__).parents[2] / "src"), os.environ.get("PYTHONPATH")])
        ),
    }
    log = tmp_path / "worker.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "tocsin.cli", "worker", "--name", "woken-process"],
            env=env,
            stdout=out,
            stderr=out,
        )
    try:
        wait_until(lambda: "woken by live signals" in log.read_text(), what="the worker's start", timeout=60)
        first = enqueue(database, clock, f"{receiver.url}/v1/x")
        wait_until(lambda: status(database, first) == "delivered", what="the first delivery", timeout=20)
        second = enqueue(database, clock, f"{receiver.url}/v1/x")
        wait_until(
            lambda: status(database, second) == "delivered", what="delivery after a wake-up", timeout=10
        )
    finally:
        process.terminate()
        process.wait(20)
    assert process.returncode == 0, log.read_text()[-2000:]


def _row(url: str, now: datetime) -> dict:
    return {
        "desk": "test",
        "kind": "M2",
        "partner": "OC",
        "url": url,
        "payload": {"n": 1},
        "stream": "s",
        "subject": "",
        "status": outbox.PENDING,
        "attempts": 0,
        "round_attempts": 0,
        "created_at": now,
        "next_attempt_at": now,
    }
