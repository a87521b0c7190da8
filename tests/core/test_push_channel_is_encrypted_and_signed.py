"""Web Push end to end: a push service on loopback checks our VAPID JWT (RFC 8292) and decrypts the
payload with the subscription's keys (RFC 8291, aes128gcm); a gone subscription (410) is permanent and
forgotten, throttling (429) is retried."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tests.channels import deliver_all, notifications_of, push_service, reachable_staff
from tocsin.core import notify
from tocsin.core.auth.staff import StaffUser
from tocsin.core.config import get_settings
from tocsin.core.outbox.transports.push import new_vapid_key


@pytest.fixture
def pusher():
    with push_service() as running:
        yield running


@pytest.fixture
def push_settings(settings, pusher):
    private, public = new_vapid_key()
    pusher.server_key = public
    return settings.model_copy(
        update={
            "vapid_private_key": private,
            "vapid_subject": "mailto:ops@oi.example.org",
            "push_http_endpoints": True,
            "public_url": "https://tocsin.example.org",
        }
    )


def subscribe_devices(database, clock, pusher, count: int = 1) -> list:
    reachable_staff(database, clock, username="zoe", roles=["operator"], choices={"core.test": ["push"]})
    devices = [pusher.device() for _ in range(count)]
    with database.session() as db:
        user = db.query(StaffUser).filter(StaffUser.username == "zoe").one()
        for device in devices:
            notify.subscribe(
                db,
                user_id=user.id,
                subscription=device.subscription(),
                label="test",
                now=clock(),
                allow_http=True,
            )
    return devices


def tell(database, clock) -> None:
    with database.session() as db:
        user = db.query(StaffUser).filter(StaffUser.username == "zoe").one()
        context = {"name": "Zoé", "at": clock(), "link": "/account"}
        notify.send(db, recipient=user, kind=notify.TEST, context=context, now=clock())


@pytest.fixture
def public_url(monkeypatch):
    """Links in notifications are made with the process's settings (TOCSIN_PUBLIC_URL)."""
    monkeypatch.setenv("TOCSIN_PUBLIC_URL", "https://tocsin.example.org")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_each_device_gets_the_payload_encrypted_for_it_and_signed_by_us(
    database, clock, pusher, push_settings, public_url
):
    first, second = subscribe_devices(database, clock, pusher, count=2)
    tell(database, clock)

    deliver_all(database, clock, push_settings)

    assert pusher.refused == []
    assert {r["endpoint"] for r in pusher.received} == {first.endpoint, second.endpoint}
    data = pusher.received[0]["data"]
    assert data["title"] == "Tocsin: test message for Zoé"
    assert data["body"].startswith("Hello Zoé,") and data["url"] == "https://tocsin.example.org/account"
    assert pusher.received[0]["claims"]["sub"] == "mailto:ops@oi.example.org"
    assert [n.status for n in notifications_of(database)] == ["delivered", "delivered"]


def test_a_gone_subscription_is_a_permanent_failure_and_is_forgotten(database, clock, pusher, push_settings):
    subscribe_devices(database, clock, pusher)
    pusher.answers = [410]
    tell(database, clock)

    deliver_all(database, clock, push_settings)

    [failed] = notifications_of(database)
    assert (failed.status, failed.attempts, failed.last_answer) == (
        "permanent-failure",
        1,
        "410 push service answered 410",
    )
    with database.session() as db:
        assert list(db.scalars(select(notify.PushSubscription))) == []


def test_a_throttled_push_is_retried_on_the_schedule(database, clock, pusher, push_settings):
    subscribe_devices(database, clock, pusher)
    pusher.answers = [429]
    tell(database, clock)
    deliver_all(database, clock, push_settings)
    assert notifications_of(database)[0].status == "sending"

    clock.advance(seconds=notify.service.SCHEDULE[0])
    deliver_all(database, clock, push_settings)

    [sent] = notifications_of(database)
    assert (sent.status, sent.attempts) == ("delivered", 2)
    assert len(pusher.received) == 1


def test_a_push_signed_with_another_key_is_refused_by_the_service(database, clock, pusher, push_settings):
    pusher.server_key = new_vapid_key()[1]
    subscribe_devices(database, clock, pusher)
    tell(database, clock)

    deliver_all(database, clock, push_settings)

    assert pusher.refused and "not the server's" in pusher.refused[0]
    assert notifications_of(database)[0].status == "technical-failure"
