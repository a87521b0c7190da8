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


def test_a_restart_clears_the_alarms_nobody_raises_again_and_a_heard_tracker_is_not_silent(database):
    """Alarms left open by the run before: the one the new engine raises again stays, the others are
    cleared with the reason (audited), "no signal" stays until the tracker is heard — then it clears."""
    from datetime import UTC, datetime

    from tests.support import run_async
    from tocsin.core import audit
    from tocsin.minesafe import store
    from tocsin.minesafe.ingest.recorder import Recorder
    from tocsin.minesafe.model import AlarmEvent, Kind, Level, Report
    from tocsin.minesafe.models import Alarm
    from tocsin.minesafe.site import load_example_site

    site = load_example_site()
    before = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
    old = [
        AlarmEvent(t=before.timestamp(), type="run_over", level=Level.DANGER, ids=("quarry:0", "quarry:11")),
        AlarmEvent(t=before.timestamp(), type="collision", level=Level.WARNING, ids=("quarry:1", "quarry:2")),
        AlarmEvent(t=before.timestamp(), type="silent", level=Level.WARNING, ids=("quarry:14",)),
    ]
    with database.session() as db:
        ids = {a.type: a.id for a in store.save_events(db, old, site=site.name, now=before)}
    later = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    recorder = Recorder(database, {site.name: site}, clock=lambda: later)
    recorder.add_events(
        [AlarmEvent(t=later.timestamp(), type="run_over", level=Level.DANGER, ids=("quarry:11", "quarry:0"))]
    )
    assert run_async(recorder.close_unconfirmed(after_s=0)) == 1
    with database.session() as db:
        states = {kind: db.get(Alarm, alarm_id).state for kind, alarm_id in ids.items()}
        cleared = db.get(Alarm, ids["collision"])
        trail = [e.action for e in audit.events_for(db, object_type="alarm", object_id=ids["collision"])]
    assert states == {"run_over": "raised", "collision": "cleared", "silent": "raised"}
    assert cleared.detail["cleared"] == "not confirmed after the ingestion restarted"
    assert trail == ["minesafe.alarm_unconfirmed"]

    heard = Report(
        t=later.timestamp(), tracker="quarry:14", kind=Kind.PERSON, x=10.0, y=10.0, speed=0.0, site=site.name
    )
    with database.session() as db:
        store.save_reports(db, [heard], {site.name: site})
    with database.session() as db:
        assert db.get(Alarm, ids["silent"]).state == "cleared"
