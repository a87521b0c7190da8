"""The SMS channel through an HTTP gateway on loopback: JSON with a bearer token and an idempotency key;
a refused number is permanent, 503 is retried, a wrong token is our own set-up."""

from __future__ import annotations

import pytest

from tests.channels import deliver_all, notifications_of, sms_gateway
from tocsin.core import notify

PHONE = "+33612345678"


@pytest.fixture
def gateway():
    with sms_gateway() as running:
        yield running


def tell(database, clock) -> None:
    with database.session() as db:
        notify.send(
            db,
            recipient=notify.Address("sms", PHONE, language="en"),
            kind=notify.TEST,
            context={"name": "Zoé", "at": clock()},
            now=clock(),
        )


def gateway_settings(settings, gateway, token=None):
    return settings.model_copy(update={"sms_url": gateway.url, "sms_token": token or gateway.token})


def test_the_gateway_gets_the_documented_json_with_the_bearer_token(database, clock, settings, gateway):
    tell(database, clock)
    deliver_all(database, clock, gateway_settings(settings, gateway))

    [sent] = notifications_of(database)
    assert (sent.status, sent.address, sent.user_id) == ("delivered", PHONE, None)
    [received] = gateway.received
    assert received["idempotency"] == received["json"]["reference"] == f"tocsin-{sent.message_id}"
    assert received["json"]["to"] == PHONE and received["json"]["sender"] == "TOCSIN"
    assert received["json"]["text"].startswith("Hello Zoé,")
    assert sent.last_answer == '202 {"id":"sms-1"}'


def test_a_refused_number_is_permanent_and_a_busy_gateway_is_retried(database, clock, settings, gateway):
    gateway.answers = [503, 422]
    tell(database, clock)
    deliver_all(database, clock, gateway_settings(settings, gateway))
    assert notifications_of(database)[0].status == "sending"

    clock.advance(seconds=notify.service.SCHEDULE[0])
    deliver_all(database, clock, gateway_settings(settings, gateway))

    [failed] = notifications_of(database)
    assert (failed.status, failed.attempts) == ("permanent-failure", 2)
    assert failed.last_answer.startswith("422 HTTP 422")


def test_a_wrong_token_is_a_technical_failure(database, clock, settings, gateway):
    tell(database, clock)
    deliver_all(database, clock, gateway_settings(settings, gateway, token="stale"))

    [failed] = notifications_of(database)
    assert (failed.status, failed.attempts) == ("technical-failure", 1)
    assert gateway.received == []
