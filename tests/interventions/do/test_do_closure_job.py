"""A rejection not corrected within ko_resend_hours is closed by a job, and the closing is audited."""

from __future__ import annotations

from tests.interventions.support import EVERYWHERE, declaration, make_declaration, reject
from tocsin.core.audit import events_for
from tocsin.core.scheduler import run_job_now
from tocsin.interventions.do import service as declarations
from tocsin.interventions.jobs import JOBS

JOB = next(job for job in JOBS if job.fn is declarations.close_expired_rejections)


def test_rejections_older_than_48_hours_are_closed_and_audited(database, clock, do_setup):
    old = make_declaration(database, clock)
    reject(database, clock)
    clock.advance(hours=40)
    recent = make_declaration(database, clock)
    reject(database, clock)
    clock.advance(hours=8, seconds=1)
    assert run_job_now(database, JOB, now=clock()) == "1 rejected declaration(s) closed"
    assert declaration(database, old).m1_state == "closed"
    assert declaration(database, recent).m1_state == "ko"
    with database.session() as db:
        trail = events_for(db, object_type="iv_declaration", object_id=old)
        assert (trail[-1].action, trail[-1].actor) == ("interventions.declaration_closed", "job")
        assert [d.ref_do for d in declarations.closed(db, scope=EVERYWHERE)] == [old]


def test_the_job_leaves_answered_declarations_alone(database, clock, do_setup):
    ref = make_declaration(database, clock)
    clock.advance(days=5)
    assert run_job_now(database, JOB, now=clock()) == "0 rejected declaration(s) closed"
    assert declaration(database, ref).m1_state == "queued"
