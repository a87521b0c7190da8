"""An M2/M4 that a partner rejects, or that fails after its retries, is told to the OI's operators (by
e-mail, and SMS or push when they chose it) in the transaction that records the failure; viewers and
technicians are not told, and a delivered message tells no one."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from tests.channels import deliver_all, notifications_of, parts_of, reachable_staff, smtp_server
from tests.interventions.support import post_m1, set_pending_schedule
from tocsin.core.notify import Notification
from tocsin.core.outbox import Answer, OutboxMessage, Worker


@pytest.fixture
def mailbox(tmp_path):
    with smtp_server(tmp_path) as running:
        yield running


@pytest.fixture
def staff(database, clock):
    reachable_staff(database, clock, username="olive", roles=["operator"], email="olive@oi.example.org")
    reachable_staff(
        database,
        clock,
        username="oscar",
        roles=["operator"],
        email="oscar@oi.example.org",
        phone="+33612345678",
        language="en",
        choices={"interventions.delivery_failed": ["email", "sms"]},
    )
    reachable_staff(database, clock, username="vera", roles=["viewer"], email="vera@oi.example.org")
    reachable_staff(database, clock, username="tina", roles=["technician"], email="tina@oi.example.org")


def test_a_rejected_m2_is_told_to_each_operator_in_the_recording_transaction(
    client, database, clock, do_headers, staff
):
    ref = post_m1(client, do_headers, "TOLD-1")
    worker = Worker(database, schedule=[60], name="test", clock=clock)
    try:
        first, second = sorted(worker.claim(), key=lambda m: m.partner)
        body = {"Code_Reponse": 4, "Libelle_Reponse": "PM_INCONNU", "Description_Reponse": "PM inconnu"}
        worker.record(first, Answer(404, json.dumps(body), None, 3))
        worker.record(second, Answer(200, json.dumps({"Code_Reponse": 0}), None, 3))
    finally:
        worker.close()

    told = notifications_of(database)
    assert [(n.address, n.channel, n.status) for n in told] == [
        ("olive@oi.example.org", "email", "created"),
        ("oscar@oi.example.org", "email", "created"),
        ("+33612345678", "sms", "created"),
    ]
    assert told[0].subject == f"M2 rejeté par OCBB — intervention {ref}"
    assert told[1].subject == f"M2 rejected by OCBB — intervention {ref}"
    with database.session() as db:
        rejected = db.get(OutboxMessage, first.id)
        [mail] = db.scalars(select(OutboxMessage).where(OutboxMessage.id == told[0].message_id))
    assert rejected.status == "rejected"
    assert "404 Not Found" not in mail.payload["text"] and "PM inconnu" not in mail.payload["text"]
    assert "Dernière réponse : 404" in mail.payload["text"]


def test_a_failed_m2_reaches_the_operators_mailbox_through_the_worker(
    client, database, clock, do_headers, staff, mailbox, settings
):
    ref = post_m1(client, do_headers, "TOLD-2")
    set_pending_schedule(database, [])  # the partners' closed port: the next failure is final
    mail_settings = settings.model_copy(
        update={
            "smtp_url": mailbox.smtp_url(),
            "mail_from": "tocsin@oi.example.org",
            "public_url": "https://oi.example",
        }
    )

    deliver_all(database, clock, mail_settings)

    assert (
        sorted(m["To"] for m in mailbox.messages)
        == ["olive@oi.example.org"] * 2 + ["oscar@oi.example.org"] * 2
    )
    olive = [m for m in mailbox.messages if m["To"] == "olive@oi.example.org"]
    assert {m["Subject"] for m in olive} == {
        f"M2 non remis à OCBB — intervention {ref}",
        f"M2 non remis à OCCC — intervention {ref}",
    }
    text = parts_of(olive[0])["text/plain"]
    assert "n’a pas pu être remis" in text and "après 1 tentative(s)" in text and "ConnectError" in text
    emails = [n for n in notifications_of(database) if n.channel == "email"]
    assert {n.status for n in emails} == {"delivered"}
    sms = [n for n in notifications_of(database) if n.channel == "sms"]
    assert {n.status for n in sms} == {"technical-failure"}  # no SMS gateway in these settings


def test_a_delivered_m2_tells_no_one(client, database, clock, do_headers, staff):
    post_m1(client, do_headers, "TOLD-3")
    worker = Worker(database, schedule=[60], name="test", clock=clock)
    try:
        for message in worker.claim():
            worker.record(message, Answer(200, json.dumps({"Code_Reponse": 0}), None, 3))
    finally:
        worker.close()
    with database.session() as db:
        assert list(db.scalars(select(Notification))) == []
