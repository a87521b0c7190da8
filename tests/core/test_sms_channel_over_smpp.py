"""The SMS channel through SMPP 3.4, against a small SMSC on loopback: bind_transceiver, submit_sm with a
message id back; an invalid destination is permanent, throttling is retried, a wrong password is ours."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest

from tests.channels import (
    ESME_RINVDSTADR,
    ESME_RTHROTTLED,
    deliver_all,
    notifications_of,
    reachable_staff,
    smpp_server,
)
from tocsin.core import notify
from tocsin.core.auth.staff import StaffUser

PHONE = "+33612345678"

PARIS = ZoneInfo("Europe/Paris")  # the deployment's zone, in which the message writes times


@pytest.fixture
def smsc():
    with smpp_server() as running:
        yield running


def tell(database, clock, *, name: str = "Zoé") -> None:
    reachable_staff(
        database,
        clock,
        username="zoe",
        roles=["operator"],
        phone=PHONE,
        language="fr",
        choices={"core.test": ["sms"]},
    )
    with database.session() as db:
        user = db.query(StaffUser).filter(StaffUser.username == "zoe").one()
        context = {"name": name, "at": clock()}
        notify.send(db, recipient=user, kind=notify.TEST, context=context, now=clock(), zone=PARIS)


def test_an_sms_is_submitted_over_smpp_and_its_message_id_kept(database, clock, settings, smsc):
    tell(database, clock)
    deliver_all(database, clock, settings.model_copy(update={"sms_url": smsc.url()}))

    assert smsc.binds == [("tocsin", "smpp-pw")]
    [sms] = smsc.submitted
    assert (sms["source"], sms["source_ton"], sms["destination"]) == ("TOCSIN", 5, "33612345678")
    [text] = smsc.texts_to("33612345678")
    assert text.startswith(
        "Bonjour Zoé,\n\nVoici le message d'essai demandé le 20/11/2026 10:00 (heure de Paris)."
    )
    [sent] = notifications_of(database)
    assert (sent.status, sent.attempts, sent.last_answer) == ("delivered", 1, "0 message_id msg-1")


def test_a_long_text_is_trimmed_to_two_segments_and_sent_in_parts(database, clock, settings, smsc):
    tell(database, clock, name="x" * 400)
    deliver_all(database, clock, settings.model_copy(update={"sms_url": smsc.url()}))

    assert len(smsc.submitted) == 2
    [text] = smsc.texts_to("33612345678")
    assert len(text) == notify.kinds.SMS_LIMIT and text.endswith("xxx...")


def test_an_invalid_destination_is_a_permanent_failure_without_retries(database, clock, settings, smsc):
    smsc.statuses["33612345678"] = [ESME_RINVDSTADR]
    tell(database, clock)
    sms_settings = settings.model_copy(update={"sms_url": smsc.url()})
    deliver_all(database, clock, sms_settings)
    clock.advance(days=1)
    deliver_all(database, clock, sms_settings)

    [failed] = notifications_of(database)
    assert (failed.status, failed.attempts) == ("permanent-failure", 1)
    assert failed.last_answer.startswith("11 SMPP (11)")
    assert len(smsc.submitted) == 1


def test_throttling_is_retried_on_the_schedule_then_delivered(database, clock, settings, smsc):
    smsc.statuses["33612345678"] = [ESME_RTHROTTLED]
    tell(database, clock)
    sms_settings = settings.model_copy(update={"sms_url": smsc.url()})
    deliver_all(database, clock, sms_settings)
    [waiting] = notifications_of(database)
    assert (waiting.status, waiting.attempts) == ("sending", 1)

    clock.advance(seconds=notify.service.SCHEDULE[0])
    deliver_all(database, clock, sms_settings)

    [sent] = notifications_of(database)
    assert (sent.status, sent.attempts) == ("delivered", 2)
    assert len(smsc.texts_to("33612345678")) == 1


def test_a_wrong_password_is_a_technical_failure(database, clock, settings, smsc):
    tell(database, clock)
    deliver_all(database, clock, settings.model_copy(update={"sms_url": smsc.url(password="wrong")}))

    [failed] = notifications_of(database)
    assert (failed.status, failed.attempts) == ("technical-failure", 1)
    assert smsc.submitted == []
