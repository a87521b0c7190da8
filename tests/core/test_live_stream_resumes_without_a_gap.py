"""Server-sent events over real HTTP: a stream gets its topics' events in order; a browser that
reconnects with Last-Event-ID (or a page that starts after the number it was rendered at) gets every
event it missed and no other; one too far behind is told to reload; the stream ends when the session
does; the request-body deadline and the security headers leave streams alone."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from fastapi import Depends, Request

from tests.browser import LiveServer
from tests.support import EventStream, sign_in
from tocsin.core import live
from tocsin.core.auth import staff
from tocsin.core.live import stream
from tocsin.core.live.stream import live_stream
from tocsin.core.web import require_staff

WATCH = "/test/live"


def add_watch_route(app) -> None:
    """A page's stream as a desk would declare it: topics test.a and test.b, for operators."""

    def watch(request: Request, user=Depends(require_staff("operator"))):
        return live_stream(request, topics=["test.a", "test.b"], roles=["operator"])

    app.add_api_route(WATCH, watch)


@pytest.fixture
def server(app):
    add_watch_route(app)
    running = LiveServer(app)
    running.start()
    yield running
    running.stop()


@pytest.fixture
def browser_client(server, database):
    """An operator signed in over real HTTP."""
    with httpx.Client(base_url=server.base_url) as client:
        sign_in(client, database, "olive", ["operator"])
        yield client


def publish(database, clock, topic: str, n: int) -> int:
    with database.session() as db:
        live.publish(db, topic=topic, data={"n": n}, now=clock())
    with database.session() as db:
        return live.last_number(db)


def test_events_arrive_in_order_and_only_those_of_the_stream_topics(browser_client, database, clock):
    with EventStream(browser_client, WATCH) as events:
        assert events.response.headers["content-type"].startswith("text/event-stream")
        numbers = [
            publish(database, clock, topic, n)
            for n, topic in enumerate(["test.a", "other", "test.b", "test.a", "other", "test.b"])
        ]
        got = [events.next_event() for _ in range(4)]
    assert [e["data"] for e in got] == [
        {"topic": "test.a", "data": {"n": 0}},
        {"topic": "test.b", "data": {"n": 2}},
        {"topic": "test.a", "data": {"n": 3}},
        {"topic": "test.b", "data": {"n": 5}},
    ]
    assert [e["id"] for e in got] == [numbers[0], numbers[2], numbers[3], numbers[5]]


def test_a_reconnecting_client_gets_every_event_it_missed_and_no_other(browser_client, database, clock):
    with EventStream(browser_client, WATCH) as events:
        publish(database, clock, "test.a", 1)
        publish(database, clock, "test.b", 2)
        seen = [events.next_event(), events.next_event()]
    last_seen = seen[-1]["id"]
    for n in (3, 4, 5):
        publish(database, clock, "test.a" if n % 2 else "test.b", n)
    publish(database, clock, "other", 6)
    with EventStream(browser_client, WATCH, last_event_id=last_seen) as events:
        missed = [events.next_event() for _ in range(3)]
        publish(database, clock, "test.a", 7)
        after = events.next_event()
    assert [e["data"]["data"]["n"] for e in missed] == [3, 4, 5]
    assert missed[0]["id"] > last_seen and after["data"]["data"]["n"] == 7


def test_a_page_gets_the_events_after_the_number_it_was_rendered_at(browser_client, database, clock):
    rendered_at = publish(database, clock, "test.a", 1)
    publish(database, clock, "test.a", 2)
    with EventStream(browser_client, f"{WATCH}?after={rendered_at}") as events:
        assert events.next_event()["data"]["data"] == {"n": 2}


def test_a_client_behind_the_kept_events_is_told_to_reload(browser_client, database, clock):
    old = publish(database, clock, "test.a", 1)
    clock.advance(hours=1)
    publish(database, clock, "test.a", 2)
    newest = publish(database, clock, "test.a", 3)
    with database.session() as db:
        live.purge(db, before=clock() - timedelta(minutes=15))
    with EventStream(browser_client, WATCH, last_event_id=old - 1) as events:
        reset = events.next_event()
    assert (reset["event"], reset["id"]) == ("reset", newest)


def test_an_event_number_this_database_never_gave_is_a_reset(browser_client, database, clock):
    newest = publish(database, clock, "test.a", 1)
    with EventStream(browser_client, WATCH, last_event_id=newest + 1000) as events:
        assert events.next_event()["event"] == "reset"


def test_the_stream_ends_when_the_session_ends(browser_client, database, clock, monkeypatch):
    monkeypatch.setattr(stream, "RECHECK_SECONDS", 0.2)
    with EventStream(browser_client, WATCH) as events:
        publish(database, clock, "test.a", 1)
        assert events.next_event()["data"]["data"] == {"n": 1}
        with database.session() as db:
            user = db.query(staff.StaffUser).filter_by(username="olive").one()
            staff.end_sessions(db, user_id=user.id)
        assert events.next_event()["event"] == "end"


def test_a_bad_last_event_id_names_the_field(browser_client):
    reply = browser_client.get(WATCH, headers={"Accept": "text/event-stream", "Last-Event-ID": "1; DROP"})
    assert reply.status_code == 400
    assert reply.json()["field"] == "Last-Event-ID"


def test_streams_outlive_the_body_deadline_and_carry_the_security_headers(settings, database, clock):
    from tocsin.app import create_app

    app = create_app(settings.model_copy(update={"read_timeout": 0.3}), database=database, clock=clock)
    add_watch_route(app)
    running = LiveServer(app)
    running.start()
    try:
        with httpx.Client(base_url=running.base_url) as client:
            sign_in(client, database, "olive", ["operator"])
            with EventStream(client, WATCH) as events:
                assert "frame-ancestors 'none'" in events.response.headers["content-security-policy"]
                assert events.response.headers["x-content-type-options"] == "nosniff"
                clock_now = clock()
                with database.session() as db:
                    live.publish(db, topic="test.a", data={"n": 1}, now=clock_now)
                first = events.next_event()
                with database.session() as db:
                    live.publish(db, topic="test.b", data={"n": 2}, now=clock_now)
                # The second event comes after the 0.3 s body deadline would have cut a body read.
                second = events.next_event()
        assert (first["data"]["data"], second["data"]["data"]) == ({"n": 1}, {"n": 2})
    finally:
        running.stop()
