"""The staff page of notifications: operators and admins only, filters that name a bad field, and a
re-send that asks first, needs the form's CSRF token and puts the message back in the queue."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.channels import deliver_all, notifications_of
from tests.support import csrf_of, sign_in
from tocsin.core import notify
from tocsin.core.audit import AuditEvent
from tocsin.core.outbox import OutboxMessage

PAGE = "/notifications"


@pytest.fixture
def web(app):
    with TestClient(app) as client:
        yield client


@pytest.fixture
def sent(database, clock, settings):
    """Two test messages to bare addresses: one by e-mail, one by SMS; no gateway, so both fail."""
    with database.session() as db:
        for address in (notify.Address("email", "ops@example.org"), notify.Address("sms", "+33612345678")):
            notify.send(
                db, recipient=address, kind=notify.TEST, context={"name": "Ops", "at": clock()}, now=clock()
            )
    deliver_all(database, clock, settings)
    return notifications_of(database)


@pytest.mark.parametrize("roles", [["viewer"], ["technician"]])
def test_outsiders_are_refused(web, database, sent, roles):
    sign_in(web, database, "outsider", roles)
    assert web.get(PAGE).status_code == 403
    assert web.get(f"{PAGE}/{sent[0].id}/resend").status_code == 403
    token = csrf_of(web.get("/login").text)
    assert web.post(f"{PAGE}/{sent[0].id}/resend", data={"csrf": token}).status_code == 403


def test_a_visitor_is_sent_to_sign_in(web, sent):
    reply = web.get(PAGE, follow_redirects=False)
    assert reply.status_code == 303 and reply.headers["location"] == "/login?next=/notifications"


def test_operators_see_each_notification_with_its_status_and_answer(web, database, sent):
    sign_in(web, database, "olive", ["operator"])
    page = web.get(PAGE, params={"lang": "en"}).text
    assert page.count('<tr id="notification-') == 2
    assert "Technical failure" in page and "TOCSIN_SMTP_URL" in page and "ops@example.org" in page
    only_sms = web.get(
        PAGE, params={"channel": "sms", "status": "technical-failure", "since": "2026-11-20"}
    ).text
    assert only_sms.count('<tr id="notification-') == 1 and "+33612345678" in only_sms
    none = web.get(PAGE, params={"kind": "core.test", "until": "2026-11-19"}).text
    assert '<tr id="notification-' not in none


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"kind": "core.nope"}, "kind"),
        ({"channel": "pigeon"}, "channel"),
        ({"status": "lost"}, "status"),
        ({"since": "2026-13-45"}, "since"),
        ({"until": "yesterday"}, "until"),
        ({"since": "2026-11-21", "until": "2026-11-20"}, "until"),
        ({"page": "0"}, "page"),
        ({"page": "99999999999999999999"}, "page"),
        ({"since": "<script>alert(1)</script>"}, "since"),
    ],
)
def test_bad_filters_are_named(web, database, sent, params, field):
    sign_in(web, database, "olive", ["operator"])
    reply = web.get(PAGE, params={**params, "lang": "en"})
    assert reply.status_code == 400
    assert f'<a href="#{field}">' in reply.text and "<script>alert(1)" not in reply.text


def test_resend_asks_first_then_queues_the_message_again(web, database, clock, sent):
    sign_in(web, database, "olive", ["operator"])
    target = sent[0]
    question = web.get(f"{PAGE}/{target.id}/resend", params={"lang": "en"})
    assert question.status_code == 200 and "Send the notification again?" in question.text
    assert "ops@example.org" in question.text

    refused = web.post(f"{PAGE}/{target.id}/resend", data={"csrf": "forged"})
    assert refused.status_code == 400 and notifications_of(database)[0].status == "technical-failure"

    reply = web.post(
        f"{PAGE}/{target.id}/resend", data={"csrf": csrf_of(question.text)}, follow_redirects=False
    )
    assert reply.status_code == 303 and reply.headers["location"] == "/notifications?resent=1"
    again = notifications_of(database)[0]
    assert (again.status, again.attempts) == ("created", 1)
    with database.session() as db:
        message = db.get(OutboxMessage, again.message_id)
        assert (message.status, message.next_attempt_at) == ("pending", clock())
        [event] = db.scalars(select(AuditEvent).where(AuditEvent.action == "notify.resent"))
    assert (event.actor, event.object_id) == ("olive", str(target.id))
    assert "The notification is queued again." in web.get(reply.headers["location"] + "&lang=en").text

    second = web.post(f"{PAGE}/{target.id}/resend", data={"csrf": csrf_of(question.text)})
    assert second.status_code == 409  # still being sent: one copy in the queue at a time


def test_resend_of_an_unknown_notification_is_404(web, database, sent):
    sign_in(web, database, "olive", ["operator"])
    for number in ("999999", "0", "99999999999999999999"):
        assert web.get(f"{PAGE}/{number}/resend").status_code in (404, 400)
    assert web.get(f"{PAGE}/abc/resend").status_code == 400
