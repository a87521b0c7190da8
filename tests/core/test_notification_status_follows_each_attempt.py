"""A notification's status follows its outbox message: created, sending while retries remain, then
delivered, temporary-failure when the schedule is spent, permanent-failure at once when refused;
re-sent by hand, it goes out again with a fresh round."""

from __future__ import annotations

import pytest

from tests.channels import deliver_all, notifications_of, sms_gateway
from tocsin.core import notify


@pytest.fixture
def gateway():
    with sms_gateway() as running:
        yield running


def queue(database, clock) -> None:
    with database.session() as db:
        notify.send(
            db,
            recipient=notify.Address("sms", "+33612345678"),
            kind="core.test",
            context={"name": "A", "at": clock()},
            now=clock(),
        )


def test_a_transient_failure_is_retried_on_its_schedule_then_spent(database, clock, settings, gateway):
    gateway.answers = [503] * 10
    queue(database, clock)
    config = settings.model_copy(update={"sms_url": gateway.url, "sms_token": gateway.token})
    seen = []
    for delay in [0, *notify.service.SCHEDULE]:
        clock.advance(seconds=delay)
        deliver_all(database, clock, config)
        [row] = notifications_of(database)
        seen.append((row.status, row.attempts))
    assert seen == [("sending", 1), ("sending", 2), ("sending", 3), ("sending", 4), ("temporary-failure", 5)]


def test_a_permanent_refusal_is_not_retried_and_a_resend_delivers_it(database, clock, settings, gateway):
    gateway.answers = [400]
    queue(database, clock)
    config = settings.model_copy(update={"sms_url": gateway.url, "sms_token": gateway.token})
    deliver_all(database, clock, config)
    clock.advance(hours=3)
    deliver_all(database, clock, config)
    [row] = notifications_of(database)
    assert (row.status, row.attempts) == ("permanent-failure", 1)

    with database.session() as db:
        notify.resend(db, notification_id=row.id, now=clock(), actor="olive")
    deliver_all(database, clock, config)

    [row] = notifications_of(database)
    assert (row.status, row.attempts) == ("delivered", 2)
    assert len(gateway.received) == 1


def test_a_notification_being_sent_cannot_be_resent(database, clock):
    queue(database, clock)
    [row] = notifications_of(database)
    with database.session() as db, pytest.raises(notify.service.Conflict):
        notify.resend(db, notification_id=row.id, now=clock(), actor="olive")


def test_notifications_past_their_retention_are_forgotten_with_their_messages(database, clock, settings):
    from datetime import timedelta

    from sqlalchemy import func, select

    from tocsin.core.outbox import OutboxMessage

    queue(database, clock)
    deliver_all(database, clock, settings)  # no gateway: a technical failure, finished
    clock.advance(days=settings.notification_retention_days)
    queue(database, clock)
    with database.session() as db:
        assert (
            notify.purge(
                db,
                before=clock() - timedelta(days=settings.notification_retention_days) + timedelta(seconds=1),
            )
            == 1
        )
    [kept] = notifications_of(database)
    assert kept.created_at == clock()
    with database.session() as db:
        assert db.scalar(select(func.count()).select_from(OutboxMessage)) == 1
