"""The e-mail channel end to end: a real SMTP server on loopback (aiosmtpd) that requires STARTTLS and
AUTH; a 5xx for the recipient is permanent, a 4xx is retried, a refused login is our own set-up."""

from __future__ import annotations

import pytest

from tests.channels import deliver_all, notifications_of, parts_of, reachable_staff, smtp_server
from tocsin.core import notify
from tocsin.core.auth.staff import StaffUser
from tocsin.core.outbox import OutboxMessage

MAIL_FROM = "tocsin@oi.example.org"


@pytest.fixture
def mailbox(tmp_path):
    with smtp_server(tmp_path) as running:
        yield running


@pytest.fixture
def mail_settings(settings, mailbox):
    return settings.model_copy(update={"smtp_url": mailbox.smtp_url(), "mail_from": MAIL_FROM})


def tell(database, clock, username: str) -> None:
    with database.session() as db:
        user = db.query(StaffUser).filter(StaffUser.username == username).one()
        notify.send(
            db, recipient=user, kind=notify.TEST, context={"name": "Zoé <ops>", "at": clock()}, now=clock()
        )


def test_a_notification_is_mailed_over_starttls_after_auth(database, clock, mailbox, mail_settings):
    reachable_staff(
        database, clock, username="zoe", roles=["operator"], email="zoe@example.org", language="fr"
    )
    tell(database, clock, "zoe")
    [queued] = notifications_of(database)
    assert (queued.status, queued.channel, queued.address) == ("created", "email", "zoe@example.org")

    deliver_all(database, clock, mail_settings)

    [session] = mailbox.sessions
    assert session == {"tls": True, "authenticated": True, "login": b"tocsin", "rcpt": ["zoe@example.org"]}
    [mail] = mailbox.messages
    assert mail["From"] == MAIL_FROM and mail["To"] == "zoe@example.org"
    assert mail["Subject"] == "Tocsin : message d’essai pour Zoé <ops>"
    assert mail["Auto-Submitted"] == "auto-generated" and f"tocsin-{queued.message_id}" in mail["Message-ID"]
    bodies = parts_of(mail)
    assert "Bonjour Zoé <ops>," in bodies["text/plain"]
    assert "<p>Bonjour Zoé &lt;ops&gt;,</p>" in bodies["text/html"]  # HTML autoescaped, text left alone
    [sent] = notifications_of(database)
    assert (sent.status, sent.attempts) == ("delivered", 1)
    assert sent.last_answer == "250 accepted for zoe@example.org"


def test_a_recipient_refused_for_good_is_a_permanent_failure_without_retries(
    database, clock, mailbox, mail_settings
):
    mailbox.refused["gone@example.org"] = "550 5.1.1 no such user here"
    reachable_staff(database, clock, username="gone", roles=["operator"], email="gone@example.org")
    tell(database, clock, "gone")

    deliver_all(database, clock, mail_settings)
    clock.advance(days=1)
    deliver_all(database, clock, mail_settings)

    [failed] = notifications_of(database)
    assert (failed.status, failed.attempts) == ("permanent-failure", 1)
    assert failed.last_answer.startswith("550 SMTP 550 5.1.1 no such user here")
    assert mailbox.messages == []


def test_a_busy_mailbox_is_retried_on_the_schedule_then_delivered(database, clock, mailbox, mail_settings):
    mailbox.busy["busy@example.org"] = 1
    reachable_staff(database, clock, username="busy", roles=["operator"], email="busy@example.org")
    tell(database, clock, "busy")

    deliver_all(database, clock, mail_settings)
    [waiting] = notifications_of(database)
    assert (waiting.status, waiting.attempts) == ("sending", 1) and waiting.last_answer.startswith("451")

    clock.advance(seconds=notify.service.SCHEDULE[0] - 1)
    deliver_all(database, clock, mail_settings)
    assert mailbox.messages == []  # not due yet
    clock.advance(seconds=1)
    deliver_all(database, clock, mail_settings)

    [sent] = notifications_of(database)
    assert (sent.status, sent.attempts) == ("delivered", 2)
    assert len(mailbox.messages) == 1


def test_a_refused_login_is_a_technical_failure(database, clock, mailbox, settings):
    wrong = settings.model_copy(
        update={"smtp_url": mailbox.smtp_url(password="wrong"), "mail_from": MAIL_FROM}
    )
    reachable_staff(database, clock, username="zoe", roles=["operator"], email="zoe@example.org")
    tell(database, clock, "zoe")

    deliver_all(database, clock, wrong)
    clock.advance(days=1)
    deliver_all(database, clock, wrong)  # our set-up does not mend itself: no retry on a schedule

    [failed] = notifications_of(database)
    assert (failed.status, failed.attempts) == ("technical-failure", 1)
    assert failed.last_answer.startswith("535")
    assert mailbox.messages == []
    with database.session() as db:
        assert db.get(OutboxMessage, failed.message_id).status == "failed"


def test_a_channel_with_no_gateway_is_a_technical_failure_naming_the_setting(database, clock, settings):
    reachable_staff(database, clock, username="zoe", roles=["operator"], email="zoe@example.org")
    tell(database, clock, "zoe")

    deliver_all(database, clock, settings)

    [failed] = notifications_of(database)
    assert failed.status == "technical-failure"
    assert "TOCSIN_SMTP_URL" in failed.last_answer
