"""The core's housekeeping job deletes expired tokens, ended sessions, forgotten throttle counts and the
heartbeats of workers gone for a day and live events older than a reconnecting page could ask for, and
keeps everything still in use."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from tests.support import make_staff
from tocsin.core import live
from tocsin.core.auth import partners, staff, throttle
from tocsin.core.housekeeping import jobs
from tocsin.core.outbox import Worker, WorkerHeartbeat
from tocsin.core.scheduler import run_job_now


def count(database, model) -> int:
    with database.session() as db:
        return db.scalar(select(func.count()).select_from(model))


def test_old_rows_go_and_live_ones_stay(database, clock, settings):
    make_staff(database, username="marie", roles=["viewer"])
    rules = staff.SessionRules(idle=timedelta(minutes=60), lifetime=timedelta(hours=12))
    with database.session() as db:
        client = partners.upsert_client(
            db, client_id="c1", secret="s3cret-s3cret", owner="OCBB", scopes=[], managed_by="t", now=clock()
        )
        db.flush()
        user = db.scalar(select(staff.StaffUser))
        staff.open_session(db, user=user, now=clock() - timedelta(hours=2), rules=rules)
        staff.open_session(db, user=user, now=clock(), rules=rules)
        partners.issue_token(
            db, client=client, scopes=[], now=clock() - timedelta(hours=2), lifetime=3600, not_after=clock()
        )
        partners.issue_token(
            db, client=client, scopes=[], now=clock(), lifetime=3600, not_after=clock() + timedelta(days=1)
        )
        throttle.failed(db, ["old"], now=clock() - timedelta(hours=1), policy=throttle.Policy())
        throttle.failed(db, ["new"], now=clock(), policy=throttle.Policy())
        live.publish(db, topic="old", data={}, now=clock() - timedelta(minutes=16))
        live.publish(db, topic="new", data={}, now=clock() - timedelta(minutes=14))
    for name, at in (("gone", lambda: clock() - timedelta(days=2)), ("here", clock)):
        worker = Worker(database, schedule=[], name=name, clock=at)
        worker.beat()
        worker.pool.shutdown()
    (job,) = jobs(settings)
    summary = run_job_now(database, job, now=clock())
    assert summary.startswith(
        "tokens 1, sessions 1, throttle 1, heartbeats 1, live events 1, notifications 0, files expired 0"
    )
    assert [
        count(database, m) for m in (partners.AccessToken, staff.StaffSession, throttle.AuthThrottle)
    ] == [1, 1, 1]
    with database.session() as db:
        assert db.scalars(select(WorkerHeartbeat.name)).all() == ["here"]
        assert db.scalars(select(live.LiveEvent.topic)).all() == ["new"]
