"""The M5 job: after the configured delay or at the day's cut-off, whichever comes first; once; never
when the OC does not use flow 3."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from tests.interventions.support import REF, add_cut, add_received, apply_oc_config
from tocsin.core.outbox import OutboxMessage
from tocsin.core.scheduler import run_job_now
from tocsin.interventions.jobs import JOBS
from tocsin.interventions.models import ReceivedIntervention

M5_JOB = next(job for job in JOBS if job.name == "interventions.send_due_m5")


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def run_at(database, clock, when: str) -> str:
    clock.at = at(when)
    return run_job_now(database, M5_JOB, now=clock())


def queued(database) -> list[OutboxMessage]:
    with database.session() as db:
        return list(db.scalars(select(OutboxMessage).where(OutboxMessage.kind == "M5")))


def state(database, received_id) -> str:
    with database.session() as db:
        return db.get(ReceivedIntervention, received_id).m5_state


def test_the_job_runs_every_minute():
    assert M5_JOB.every == 60


def test_m5_waits_for_the_delay_after_the_end(database, clock):
    apply_oc_config(database, clock())
    received_id = add_received(database)
    add_cut(database, "2026-11-20T10:15:00+01:00", "FI-1234-0001")
    run_at(database, clock, "2026-11-20T11:59:00+01:00")
    assert queued(database) == [] and state(database, received_id) == "none"
    assert run_at(database, clock, "2026-11-20T12:00:00+01:00") == "1 M5 queued, 0 skipped"
    (message,) = queued(database)
    assert message.partner == "OIAA" and message.url == "http://127.0.0.1:9/v1/client_HS_OC_Par_Inter"
    assert message.on_result == "interventions.m5" and message.subject == REF
    assert [c["PTO"] for c in message.payload["Liste_Clients_HS"]] == ["FI-1234-0001"]
    with database.session() as db:
        received = db.get(ReceivedIntervention, received_id)
        assert (received.m5_state, received.m5_message_id) == ("sent", message.id)
        assert received.m5_sent_at == at("2026-11-20T12:00:00+01:00")


def test_the_cut_off_comes_first_so_m5_leaves_before_midnight(database, clock):
    apply_oc_config(database, clock(), m5={"delay_minutes": 600, "cutoff": "23:30"})
    add_received(database, debut=at("2026-11-20T21:00:00+01:00"), fin=at("2026-11-20T22:00:00+01:00"))
    run_at(database, clock, "2026-11-20T23:29:00+01:00")
    assert queued(database) == []
    run_at(database, clock, "2026-11-20T23:30:00+01:00")
    assert len(queued(database)) == 1


def test_an_intervention_ending_after_the_cut_off_is_sent_at_once(database, clock):
    apply_oc_config(database, clock())
    add_received(database, debut=at("2026-11-20T23:00:00+01:00"), fin=at("2026-11-20T23:45:00+01:00"))
    run_at(database, clock, "2026-11-20T23:44:00+01:00")
    assert queued(database) == []
    run_at(database, clock, "2026-11-20T23:45:00+01:00")
    assert len(queued(database)) == 1


def test_no_customer_impacted_still_sends_an_m5_without_list(database, clock):
    apply_oc_config(database, clock())
    add_received(database)
    run_at(database, clock, "2026-11-20T12:00:00+01:00")
    (message,) = queued(database)
    assert message.payload == {"Code_OC_impacte": "OCBB", "Ref_Interv_OI": REF}


def test_an_intervention_without_an_end_gets_no_m5(database, clock):
    apply_oc_config(database, clock())
    add_received(database, fin=None)
    run_at(database, clock, "2026-11-20T23:59:00+01:00")
    assert queued(database) == []


def test_running_the_job_twice_queues_one_m5(database, clock):
    apply_oc_config(database, clock())
    add_received(database)
    run_at(database, clock, "2026-11-20T12:00:00+01:00")
    assert run_at(database, clock, "2026-11-20T12:01:00+01:00") == "0 M5 queued, 0 skipped"
    assert len(queued(database)) == 1


def test_an_oc_that_does_not_use_flow_3_never_sends_m5(database, clock):
    apply_oc_config(database, clock(), m5={"enabled": False})
    received_id = add_received(database)
    assert run_at(database, clock, "2026-11-20T23:59:00+01:00") == "flow 3 not used"
    assert queued(database) == [] and state(database, received_id) == "none"
