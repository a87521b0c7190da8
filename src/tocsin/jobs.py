"""The worker process: delivers the outbox and runs the core's and every enabled desk's scheduled jobs."""

from __future__ import annotations

import logging
import signal
import threading

from tocsin import desks
from tocsin.core import housekeeping, live
from tocsin.core.clock import Clock, utc_now
from tocsin.core.config import Settings
from tocsin.core.db import Database
from tocsin.core.outbox import QUEUED_TOPIC, Worker, transports
from tocsin.core.scheduler import Job, run_due

log = logging.getLogger(__name__)


def all_jobs(settings: Settings) -> list[Job]:
    """The core's housekeeping and each enabled desk's jobs (loading the desks also registers their
    outbox result handlers)."""
    enabled = desks.load(settings.desks)
    kinds = {kind.name: kind for desk in enabled for kind in desk.file_kinds}
    return housekeeping.jobs(settings, file_kinds=kinds) + [job for desk in enabled for job in desk.jobs]


def run_worker(settings: Settings, *, name: str, once: bool = False, clock: Clock = utc_now) -> None:
    """Deliver and run jobs until SIGINT/SIGTERM (or, with ``once``, until nothing is due)."""
    jobs = all_jobs(settings)
    database = Database(settings.database_url)
    worker = Worker(
        database,
        schedule=settings.retry_schedule,
        name=name,
        clock=clock,
        timeout=settings.delivery_timeout,
        lease_seconds=settings.lease_seconds,
    )
    worker.transports.update(transports.configured(settings, http=worker.http))
    if once:
        run_due(database, jobs, now=clock(), owner=name)
        worker.run(stop_when_idle=True)
        worker.close()
        return
    woken = threading.Event()

    def stop(*_: object) -> None:
        worker.stopping.set()
        woken.set()

    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, stop)
    thread = threading.Thread(target=_job_loop, args=(database, jobs, worker, name, clock), daemon=True)
    thread.start()

    def wake(topic: str | None) -> None:
        if topic in (None, QUEUED_TOPIC):  # None: the listener (re)started and may have missed some
            woken.set()

    if settings.worker_wake:
        listener = live.Listener(settings.database_url, wake, name="wake").start()
        log.info("worker %s started: %d jobs, woken by live signals", name, len(jobs))
        worker.run(idle_sleep=settings.worker_poll_seconds, woken=woken)
        listener.stop()
    else:
        log.info(
            "worker %s started: %d jobs, polling every %g s", name, len(jobs), settings.worker_poll_seconds
        )
        worker.run(idle_sleep=settings.worker_poll_seconds)
    worker.close()


def _job_loop(database: Database, jobs: list[Job], worker: Worker, name: str, clock: Clock) -> None:
    while not worker.stopping.is_set():
        try:
            for line in run_due(database, jobs, now=clock(), owner=name):
                log.info("job %s", line)
        except Exception:
            log.exception("job round failed")
        worker.stopping.wait(5)
