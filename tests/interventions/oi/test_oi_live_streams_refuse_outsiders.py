"""The OI pages' event streams answer only the roles of their pages: a signed-out browser gets 401, a
technician 403 (and a viewer 403 on the deliveries stream, which is the operators'), never an event."""

from __future__ import annotations

import httpx
import pytest

from tests.support import EventStream, sign_in

LIST_STREAM = "/interventions/oi/live/interventions"
DELIVERIES_STREAM = "/interventions/oi/live/deliveries"
ASKS_FOR_EVENTS = {"Accept": "text/event-stream"}


@pytest.fixture
def http(live_server, oi_config):
    with httpx.Client(base_url=live_server.base_url) as client:
        yield client


@pytest.mark.parametrize("url", [LIST_STREAM, DELIVERIES_STREAM])
def test_a_signed_out_browser_gets_401(http, url):
    reply = http.get(url, headers=ASKS_FOR_EVENTS)
    assert reply.status_code == 401
    assert reply.json() == {"field": None, "reason": "sign in first"}


@pytest.mark.parametrize("url", [LIST_STREAM, DELIVERIES_STREAM])
def test_a_technician_gets_403(http, database, url):
    sign_in(http, database, "tech", ["technician"])
    assert http.get(url, headers=ASKS_FOR_EVENTS).status_code == 403


def test_a_viewer_follows_the_list_but_not_the_deliveries(http, database):
    sign_in(http, database, "vera", ["viewer"])
    assert http.get(DELIVERIES_STREAM, headers=ASKS_FOR_EVENTS).status_code == 403
    with EventStream(http, LIST_STREAM) as events:
        assert events.response.status_code == 200


def test_an_operator_follows_both(http, database):
    sign_in(http, database, "olive", ["operator"])
    for url in (LIST_STREAM, DELIVERIES_STREAM):
        with EventStream(http, url) as events:
            assert events.response.headers["content-type"].startswith("text/event-stream")
