"""The recorder writes what ingestion took off the event loop, keeps it when the database is away, and
tells the dispatch pages that trackers moved at most once a second."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from tests.support import run_async
from tocsin.core.db import Database
from tocsin.core.live.events import LiveEvent
from tocsin.minesafe.ingest.recorder import Recorder
from tocsin.minesafe.model import Kind, Report
from tocsin.minesafe.models import Position
from tocsin.minesafe.site import load_example_site

SITE = load_example_site()
T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


def truck(t: float) -> Report:
    return Report(t=t, tracker="quarry:0", kind=Kind.HAUL_TRUCK, x=100.0, y=100.0, speed=3.0, site=SITE.name)


def moved_events(database: Database) -> int:
    with database.session() as db:
        topics = db.scalars(select(LiveEvent.data).where(LiveEvent.topic == "minesafe"))
        return sum(1 for data in topics if "moved" in data)


def test_positions_are_written_and_the_pages_told_at_most_once_a_second(database):
    now = [T0]
    recorder = Recorder(database, {SITE.name: SITE}, clock=lambda: now[0])
    for n in range(5):
        recorder.add_reports([truck(T0.timestamp() + n)])
        now[0] = T0 + timedelta(seconds=0.2 * n)
        run_async(recorder.flush())
    assert moved_events(database) == 1
    now[0] = T0 + timedelta(seconds=2)
    recorder.add_reports([truck(T0.timestamp() + 10)])
    run_async(recorder.flush())
    assert moved_events(database) == 2
    with database.session() as db:
        assert db.scalar(select(func.count()).select_from(Position)) == 6
    assert recorder.written == 6


def test_what_could_not_be_written_is_kept_for_the_next_interval(database, tmp_path):
    away = Database(f"sqlite:///{tmp_path / 'missing' / 'nothing-here.db'}")  # no tables: every write fails
    recorder = Recorder(away, {SITE.name: SITE}, clock=lambda: T0)
    recorder.add_reports([truck(T0.timestamp())])
    run_async(recorder.flush())
    assert recorder.failures == 1 and recorder.written == 0
    recorder.database = database  # the database is back
    recorder.add_reports([truck(T0.timestamp() + 1)])
    run_async(recorder.flush())
    assert recorder.written == 2
    away.engine.dispose()
