"""Scheduled jobs shared by several workers: each run is claimed with a conditional UPDATE,
so two workers never run the same job at the same time (as healthchecks' ``sendalerts`` does)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import String, update
from sqlalchemy.orm import Mapped, mapped_column

from tocsin.core.db import Base, Database, UTCDateTime, affected

log = logging.getLogger(__name__)


class JobRun(Base):
    __tablename__ = "job_run"

    name: Mapped[str] = mapped_column(String(80), primary_key=True)
    next_run_at: Mapped[datetime] = mapped_column(UTCDateTime)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    lease_owner: Mapped[str | None] = mapped_column(String(80), nullable=True)
    last_result: Mapped[str | None] = mapped_column(String(500), nullable=True)


@dataclass(frozen=True)
class Job:
    """A function run every ``every`` seconds: ``fn(db=..., now=...) -> str`` (a short summary); with
    ``daily_at``, once a day at that local time of ``zone`` instead (a digest people read at 08:00)."""

    name: str
    every: int
    fn: Callable[..., str]
    daily_at: time | None = None
    zone: str = "UTC"

    def next_run(self, now: datetime) -> datetime:
        """When to run after a run at ``now``."""
        if self.daily_at is None:
            return now + timedelta(seconds=self.every)
        return self.first_run(now + timedelta(seconds=1))

    def first_run(self, now: datetime) -> datetime:
        """When a job never run before is first due: at once, or at the next ``daily_at`` (now included)."""
        if self.daily_at is None:
            return now
        zone = ZoneInfo(self.zone)
        local = now.astimezone(zone)
        day = local.date()
        for offset in range(3):  # a day skipped by a clock change still finds the next one
            candidate = datetime.combine(day + timedelta(days=offset), self.daily_at, tzinfo=zone)
            if candidate >= local:
                return candidate
        raise AssertionError("a daily time always comes within three days")


def claim(database: Database, job: Job, *, now: datetime, owner: str, lease: int = 300) -> bool:
    """True if this worker won the right to run ``job`` now."""
    with database.session() as db:
        if db.get(JobRun, job.name) is None:
            db.add(JobRun(name=job.name, next_run_at=job.first_run(now)))
            try:
                db.flush()
            except Exception:
                db.rollback()
    with database.session() as db:
        result = db.execute(
            update(JobRun)
            .where(JobRun.name == job.name, JobRun.next_run_at <= now)
            .where((JobRun.lease_until.is_(None)) | (JobRun.lease_until < now))
            .values(lease_until=now + timedelta(seconds=lease), lease_owner=owner)
        )
        return affected(result) == 1


def run_due(database: Database, jobs: list[Job], *, now: datetime, owner: str) -> list[str]:
    """Run every due job this worker can claim; returns their summaries."""
    done = []
    for job in jobs:
        if not claim(database, job, now=now, owner=owner):
            continue
        try:
            with database.session() as db:
                summary = job.fn(db=db, now=now)
        except Exception as error:
            log.exception("job %s failed", job.name)
            summary = f"failed: {type(error).__name__}: {error}"
        _finish(database, job, now=now, summary=summary)
        done.append(f"{job.name}: {summary}")
    return done


def _finish(database: Database, job: Job, *, now: datetime, summary: str) -> None:
    with database.session() as db:
        row = db.get(JobRun, job.name)
        if row is not None:
            row.next_run_at = job.next_run(now)
            row.lease_until, row.lease_owner, row.last_result = None, None, summary[:500]


def run_job_now(database: Database, job: Job, *, now: datetime) -> str:
    """Run a job at once (CLI and tests), outside the schedule."""
    with database.session() as db:
        return job.fn(db=db, now=now)
