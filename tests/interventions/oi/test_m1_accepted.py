from sqlalchemy import select

from tests.interventions.support import m1
from tocsin.core.outbox import OutboxMessage
from tocsin.interventions.models import InboundMessage, Intervention


def test_m1_gets_an_oi_reference(client, do_headers, database):
    reply = client.post("/v1/intervention_DO", json=m1(), headers=do_headers)
    assert reply.status_code == 200
    body = reply.json()
    assert body["Code_Reponse"] == 0 and body["Libelle_Reponse"] == "OK"
    assert body["Ref_Interv_OI"].startswith("OIAA-20261120-")
    with database.session() as db:
        intervention = db.scalar(select(Intervention))
        assert intervention.ref_oi == body["Ref_Interv_OI"]
        assert intervention.created_from == "M1" and intervention.fin is None


def test_m1_fans_out_anonymised_m2_to_every_oc_at_the_pm(client, do_headers, database):
    ref = client.post("/v1/intervention_DO", json=m1(), headers=do_headers).json()["Ref_Interv_OI"]
    with database.session() as db:
        messages = list(db.scalars(select(OutboxMessage).order_by(OutboxMessage.partner)))
    assert [(m.partner, m.kind) for m in messages] == [("OCBB", "M2"), ("OCCC", "M2")]
    assert messages[0].payload == {
        "Code_OI": "OIAA",
        "Ref_Interv_OI": ref,
        "PM": "FI-12345-0001",
        "PBO": [{"PBO": "PT0012345"}],
        "Debut_Inter": "2026-11-20T10:00:00+01:00",
    }
    assert "Code_DO" not in messages[0].payload and "PTO" not in str(messages[0].payload)
    assert messages[0].url == "http://127.0.0.1:9/v1/intervention_OI"


def test_m1_is_recorded_as_received(client, do_headers, database):
    client.post("/v1/intervention_DO", json=m1(), headers=do_headers)
    with database.session() as db:
        inbound = db.scalar(select(InboundMessage))
    assert (inbound.kind, inbound.sender, inbound.outcome) == ("M1", "DOXX", "created")


def test_pm_without_oc_sends_nothing(client, do_headers, database):
    reply = client.post("/v1/intervention_DO", json=m1(PM="FI-12345-0003"), headers=do_headers)
    assert reply.status_code == 200
    with database.session() as db:
        assert db.scalar(select(OutboxMessage)) is None


def test_fan_out_messages_carry_the_configured_retry_schedule(client, do_headers, database, clock):
    from tests.interventions.support import OI_CONFIG
    from tocsin.interventions.config import apply_config, parse_config

    with database.session() as db:
        apply_config(db, parse_config({**OI_CONFIG, "retry_schedule": [5, 10]}), now=clock())
    client.post("/v1/intervention_DO", json=m1(), headers=do_headers)
    with database.session() as db:
        assert {tuple(m.schedule) for m in db.scalars(select(OutboxMessage))} == {(5, 10)}
