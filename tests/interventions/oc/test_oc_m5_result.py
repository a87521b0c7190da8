"""R M5 updates the intervention's M5 state; a rejected M5 may be corrected and re-sent for a while."""

from __future__ import annotations

from datetime import datetime, timedelta

import httpx
import pytest

from tests.interventions.support import add_received, apply_oc_config, set_pending_schedule
from tocsin.core.errors import Conflict
from tocsin.core.outbox import Worker
from tocsin.interventions.models import ReceivedIntervention
from tocsin.interventions.oc.outages import queue_m5

ENDED = datetime.fromisoformat("2026-11-20T12:00:00+01:00")


def oi_answering(status: int, code: int = 0):
    """The OI at the edge: answers every M5 with this HTTP status and Code_Reponse."""

    def handle(request: httpx.Request) -> httpx.Response:
        if status >= 500:
            raise httpx.ConnectError("connection refused", request=request)
        return httpx.Response(status, json={"Code_Reponse": code, "Libelle_Reponse": "x"})

    return httpx.Client(transport=httpx.MockTransport(handle))


def deliver(database, clock, http) -> None:
    set_pending_schedule(database, [])
    worker = Worker(database, schedule=[], name="test-worker", clock=clock, http=http)
    try:
        worker.run(stop_when_idle=True)
    finally:
        worker.close()


def send(database, clock, received_id) -> None:
    with database.session() as db:
        queue_m5(db=db, received=db.get(ReceivedIntervention, received_id), now=clock(), actor="alice")


def received_row(database, received_id) -> ReceivedIntervention:
    with database.session() as db:
        return db.get(ReceivedIntervention, received_id)


@pytest.fixture
def received_id(database, clock):
    clock.at = ENDED
    apply_oc_config(database, clock())
    return add_received(database)


def test_an_accepted_m5_is_ok(database, clock, received_id):
    send(database, clock, received_id)
    clock.advance(seconds=5)
    deliver(database, clock, oi_answering(200))
    row = received_row(database, received_id)
    assert (row.m5_state, row.m5_sent_at) == ("ok", ENDED + timedelta(seconds=5))


def test_a_rejected_m5_is_ko(database, clock, received_id):
    send(database, clock, received_id)
    deliver(database, clock, oi_answering(404, code=3))
    assert received_row(database, received_id).m5_state == "ko"


def test_an_m5_the_oi_never_received_is_failed(database, clock, received_id):
    send(database, clock, received_id)
    deliver(database, clock, oi_answering(503))
    assert received_row(database, received_id).m5_state == "failed"


def test_a_ko_may_be_re_sent_within_the_allowed_hours(database, clock, received_id):
    send(database, clock, received_id)
    deliver(database, clock, oi_answering(400, code=2))
    clock.advance(hours=47)
    send(database, clock, received_id)
    row = received_row(database, received_id)
    assert row.m5_state == "sent"
    deliver(database, clock, oi_answering(200))
    assert received_row(database, received_id).m5_state == "ok"


def test_a_ko_cannot_be_re_sent_after_the_allowed_hours(database, clock, received_id):
    send(database, clock, received_id)
    deliver(database, clock, oi_answering(400, code=2))
    clock.advance(hours=48, seconds=1)
    with pytest.raises(Conflict, match="too long ago"):
        send(database, clock, received_id)


def test_an_m5_on_its_way_or_accepted_is_not_sent_again(database, clock, received_id):
    send(database, clock, received_id)
    with pytest.raises(Conflict, match="already on its way"):
        send(database, clock, received_id)
    deliver(database, clock, oi_answering(200))
    with pytest.raises(Conflict, match="already accepted"):
        send(database, clock, received_id)


def test_a_failed_m5_may_be_sent_again(database, clock, received_id):
    send(database, clock, received_id)
    deliver(database, clock, oi_answering(503))
    send(database, clock, received_id)
    assert received_row(database, received_id).m5_state == "sent"


def test_sending_by_hand_is_refused_when_flow_3_is_off(database, clock):
    apply_oc_config(database, clock(), m5={"enabled": False})
    received_id = add_received(database)
    with pytest.raises(Conflict, match="does not use flow 3"):
        send(database, clock, received_id)
