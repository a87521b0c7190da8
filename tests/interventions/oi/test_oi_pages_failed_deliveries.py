"""Failed deliveries: listing with filters, retry of one message, and retry by partner and period."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select, update

from tests.interventions.support import fail_deliveries, post_m1
from tests.support import csrf_of, sign_in
from tocsin.core.audit import AuditEvent
from tocsin.core.outbox import OutboxMessage

PAGE = "/interventions/oi/deliveries"


def states(database) -> dict[tuple[str, str], str]:
    """(Ref_Interv_DO-ish subject, partner) → status, for every queued message."""
    with database.session() as db:
        return {(m.subject, m.partner): m.status for m in db.scalars(select(OutboxMessage))}


@pytest.fixture
def failed(client, database, clock, do_headers):
    """Three M1 at 10:00, 10:25 and 10:50 Paris time, each fanned out to OCBB and OCCC, all failed."""
    refs = {}
    for name in ("ten", "half", "eleven"):
        refs[name] = post_m1(client, do_headers, f"FD-{name.upper()}")
        clock.advance(minutes=25)
    fail_deliveries(database, clock)
    assert set(states(database).values()) == {"failed"}
    return refs


def test_page_lists_failed_messages_with_filters(client, database, failed):
    sign_in(client, database, "olive", ["operator"])
    page = client.get(PAGE, params={"lang": "en"}).text
    assert page.count('<tr id="message-') == 6
    only_ocbb = client.get(
        PAGE, params={"partner": "OCBB", "since": "2026-11-20T10:15", "until": "2026-11-20T10:45"}
    )
    assert only_ocbb.text.count('<tr id="message-') == 1 and failed["half"] in only_ocbb.text


def bulk_form(csrf: str) -> dict[str, str]:
    """The bulk re-send form: OCBB, messages created from 10:15 to 11:15 Paris time."""
    return {
        "csrf": csrf,
        "retry-partner": "OCBB",
        "retry-since": "2026-11-20T10:15",
        "retry-until": "2026-11-20T11:15",
    }


def test_retry_by_partner_and_period_asks_first_then_queues_only_the_matching_messages(
    client, database, failed
):
    sign_in(client, database, "olive", ["operator"])
    token = csrf_of(client.get(PAGE).text)
    question = client.post(f"{PAGE}/retry", data=bulk_form(token), params={"lang": "en"})
    assert question.status_code == 200
    period = "created from 20/11/2026,\u00a010:15 to before 20/11/2026,\u00a011:15 (Paris time)"
    assert f"2 failed messages to OCBB, {period}" in question.text
    assert "Queue 2 messages again" in question.text
    assert "pending" not in states(database).values()
    confirmed = dict(re.findall(r'name="([\w-]+)" value="([^"]*)"', question.text))
    assert confirmed["confirm"] == "yes" and confirmed["retry-partner"] == "OCBB"
    reply = client.post(f"{PAGE}/retry", data=confirmed, follow_redirects=False)
    assert reply.status_code == 303 and reply.headers["location"].endswith("queued=2")
    pending = {key for key, status in states(database).items() if status == "pending"}
    assert pending == {(failed["half"], "OCBB"), (failed["eleven"], "OCBB")}
    notice = client.get(reply.headers["location"] + "&lang=en").text
    assert "2 messages queued again" in notice
    with database.session() as db:
        event = db.scalar(select(AuditEvent).where(AuditEvent.action == "interventions.retry_by_hand"))
        assert (event.actor, event.object_id, len(event.detail["ids"])) == ("olive", "OCBB", 2)


def test_a_message_that_fails_after_the_question_is_not_sent_again(
    client, database, clock, do_headers, failed
):
    sign_in(client, database, "olive", ["operator"])
    question = client.post(f"{PAGE}/retry", data=bulk_form(csrf_of(client.get(PAGE).text)))
    confirmed = dict(re.findall(r'name="([\w-]+)" value="([^"]*)"', question.text))
    clock.at = clock.at.replace(hour=9, minute=20)  # 10:20 Paris: inside the period asked for
    late = post_m1(client, do_headers, "FD-LATE")
    fail_deliveries(database, clock)
    reply = client.post(f"{PAGE}/retry", data=confirmed, follow_redirects=False)
    assert reply.headers["location"].endswith("queued=2")
    assert states(database)[(late, "OCBB")] == "failed"


def test_the_question_says_when_nothing_matches(client, database, failed):
    sign_in(client, database, "olive", ["operator"])
    form = bulk_form(csrf_of(client.get(PAGE).text)) | {"retry-since": "2026-11-21T00:00"}
    form["retry-until"] = "2026-11-22T00:00"
    question = client.post(f"{PAGE}/retry", data=form, params={"lang": "en"})
    assert "there is nothing to send again" in question.text and 'name="confirm"' not in question.text


def test_retry_button_queues_one_rejected_message(client, database, failed):
    with database.session() as db:
        db.execute(
            update(OutboxMessage)
            .where(OutboxMessage.subject == failed["ten"], OutboxMessage.partner == "OCCC")
            .values(status="rejected")
        )
        message_id = db.scalar(select(OutboxMessage.id).where(OutboxMessage.status == "rejected"))
    sign_in(client, database, "olive", ["operator"])
    listed = client.get(PAGE, params={"status": "rejected"}).text
    assert listed.count('<tr id="message-') == 1
    reply = client.post(f"{PAGE}/{message_id}/retry", data={"csrf": csrf_of(listed)}, follow_redirects=False)
    assert reply.headers["location"].endswith("queued=1")
    assert states(database)[(failed["ten"], "OCCC")] == "pending"
    assert list(states(database).values()).count("failed") == 5


def test_bulk_retry_names_missing_and_wrong_fields(client, database, failed):
    sign_in(client, database, "olive", ["operator"])
    form = client.get(PAGE).text
    reply = client.post(
        f"{PAGE}/retry",
        data={"csrf": csrf_of(form), "retry-partner": "", "retry-since": "yesterday", "retry-until": ""},
        params={"lang": "en"},
    )
    assert reply.status_code == 400
    assert '<a href="#retry-partner">Choose the partner to send to.</a>' in reply.text
    assert '<a href="#retry-since">Enter a date and time as YYYY-MM-DD HH:MM.</a>' in reply.text
    assert '<a href="#retry-until">Enter a date and time.</a>' in reply.text
    assert "pending" not in states(database).values()


def test_retry_without_csrf_token_is_refused(client, database, failed):
    sign_in(client, database, "olive", ["operator"])
    reply = client.post(
        f"{PAGE}/retry",
        data={"retry-partner": "OCBB", "retry-since": "2026-11-20T00:00", "retry-until": "2026-11-21T00:00"},
    )
    assert reply.status_code == 400
    assert "pending" not in states(database).values()


def test_page_in_french(client, database, failed):
    sign_in(client, database, "olive", ["operator"])
    page = client.get(PAGE, params={"lang": "fr"}).text
    assert "Envois en échec" in page and "Renvoyer" in page and "Les remettre en file d’envoi" in page


def test_viewer_outsider_and_technician_are_refused(client, database, failed):
    assert client.get(PAGE, follow_redirects=False).headers["location"].startswith("/login")
    reply = client.post(f"{PAGE}/retry", data={}, follow_redirects=False)
    assert reply.status_code in (303, 400)
    for username, role in (("vera", "viewer"), ("tech", "technician")):
        sign_in(client, database, username, [role])
        assert client.get(PAGE).status_code == 403
        token = csrf_of(client.get("/login").text)
        reply = client.post(
            f"{PAGE}/retry",
            data={"csrf": token, "retry-partner": "OCBB", "retry-since": "2026-11-20T00:00"}
            | {"retry-until": "2026-11-21T00:00"},
        )
        assert reply.status_code == 403
    assert "pending" not in states(database).values()
