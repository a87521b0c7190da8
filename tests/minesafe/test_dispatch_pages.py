"""The dispatch room's page (``/minesafe/``): trackers and alarms stored by the recorder shown in Russian
and English, for operators and viewers only; an operator acknowledges an alarm with the form (CSRF
checked), a viewer gets no button."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient

from tests.support import sign_in
from tocsin.minesafe import store
from tocsin.minesafe.model import AlarmEvent, Level, Report
from tocsin.minesafe.models import Alarm
from tocsin.minesafe.site import load_example_site

SITE = load_example_site()
SITES = {SITE.name: SITE}
T0 = datetime(2026, 11, 20, 8, 59, tzinfo=UTC).timestamp()  # a minute before the fixed clock


def report(tracker: int, t: float, x: float, y: float, speed: float = 5.0, sos: bool = False) -> Report:
    kind = SITE.trackers[tracker].kind
    key = SITE.tracker_key(tracker)
    return Report(t=t, tracker=key, kind=kind, x=x, y=y, speed=speed, sos=sos, site=SITE.name)


def stored(database) -> dict[str, int]:
    """A truck and a person near each other (a run-over danger), a person pressing SOS, one silent."""
    reports = [report(0, T0, 600.0, 500.0, 10.0), report(11, T0, 640.0, 520.0, 1.0)]
    reports += [report(12, T0, 900.0, 700.0, 0.0, sos=True), report(14, T0 - 600, 1500.0, 300.0, 0.0)]
    events = [
        AlarmEvent(t=T0, type="run_over", level=Level.DANGER, ids=("quarry:0", "quarry:11"), distance=44.7),
        AlarmEvent(t=T0, type="sos", level=Level.DANGER, ids=("quarry:12",)),
        AlarmEvent(t=T0, type="silent", level=Level.WARNING, ids=("quarry:14",)),
    ]
    with database.session() as db:
        store.save_reports(db, reports, SITES)
        alarms = store.save_events(db, events, site=SITE.name, now=datetime.fromtimestamp(T0, UTC))
        return {a.type: a.id for a in alarms}


@pytest.fixture
def client(app) -> TestClient:
    return TestClient(app, base_url="http://testserver")


def test_the_page_shows_trackers_and_alarms_in_russian_by_default(database, client):
    ids = stored(database)
    sign_in(client, database, "op", ["operator"])
    page = client.get("/minesafe/")
    assert page.status_code == 200
    html = page.text
    assert 'lang="ru"' in html and "Диспетчерская" in html
    for words in ("Опасность наезда", "SOS", "Нет связи", "Подтвердить", "Карьерный самосвал", "Человек"):
        assert words in html, words
    assert "БелАЗ-7547 №1" in html and "surveyor" in html
    assert "36 км/ч" in html  # 10 m/s
    assert html.index('id="tracker-quarry-14"') < html.index('id="tracker-quarry-0"')  # silent first
    assert 'class="sos-banner" role="alert"' in html
    assert html.count('action="/minesafe/alarms/') == 3
    assert f'id="alarm-{ids["run_over"]}"' in html
    assert 'data-ring="danger"' in html and "<svg" in html and "<polyline" in html
    assert 'data-live-source="/minesafe/live?after=' in html


def test_the_page_in_english(database, client):
    stored(database)
    sign_in(client, database, "op", ["operator"])
    html = client.get("/minesafe/?lang=en").text
    assert 'lang="en"' in html
    for words in ("Dispatch room", "Run-over danger", "No signal", "Acknowledge", "Haul truck", "36 km/h"):
        assert words in html, words
    assert "Опасность" not in html


def test_a_viewer_reads_without_a_button_and_a_technician_is_refused(database, client):
    stored(database)
    sign_in(client, database, "gate", ["viewer"])
    html = client.get("/minesafe/").text
    assert "Опасность наезда" in html and "Подтвердить" not in html and "/acknowledge" not in html
    sign_in(client, database, "tech", ["technician"])
    assert client.get("/minesafe/").status_code == 403


def test_an_operator_acknowledges_with_the_form_and_not_without_csrf(database, client):
    ids = stored(database)
    token = sign_in(client, database, "op", ["operator"])
    url = f"/minesafe/alarms/{ids['run_over']}/acknowledge"
    for form in ({}, {"csrf": "forged"}):
        assert client.post(url, data=form, follow_redirects=False).status_code == 400  # the form expired
    with database.session() as db:
        assert db.get(Alarm, ids["run_over"]).state == store.RAISED
    done = client.post(url, data={"csrf": token}, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"].startswith("/minesafe/?acknowledged=")
    with database.session() as db:
        alarm = db.get(Alarm, ids["run_over"])
        assert alarm.state == store.ACKNOWLEDGED and alarm.acknowledged_by == "op"
    html = client.get(done.headers["location"]).text
    assert f"Тревога {ids['run_over']} подтверждена." in html and "подтверждена · op" in html
    assert html.count('action="/minesafe/alarms/') == 2
    assert client.post("/minesafe/alarms/999999/acknowledge", data={"csrf": token}).status_code == 404


def test_a_viewer_cannot_acknowledge(database, client):
    ids = stored(database)
    token = sign_in(client, database, "gate", ["viewer"])
    reply = client.post(f"/minesafe/alarms/{ids['sos']}/acknowledge", data={"csrf": token})
    assert reply.status_code == 403


def test_moving_trackers_carry_a_heading_arrow_and_the_swing_zone_follows_its_excavator(database, client):
    """A truck heading due east at 10 m/s: its arrow points east (SVG x grows, y stays); the ore
    excavator's swing radius (15 m) is drawn around where it stands; a standing person has no arrow."""
    moving = Report(
        t=T0,
        tracker="quarry:0",
        kind=SITE.trackers[0].kind,
        x=600.0,
        y=500.0,
        speed=10.0,
        heading=90.0,
        site=SITE.name,
    )
    digger = report(6, T0, 1000.0, 400.0, 0.0)
    standing = Report(
        t=T0,
        tracker="quarry:11",
        kind=SITE.trackers[11].kind,
        x=640.0,
        y=520.0,
        speed=0.0,
        heading=90.0,
        site=SITE.name,
    )
    with database.session() as db:
        store.save_reports(db, [moving, digger, standing], SITES)
    sign_in(client, database, "op", ["operator"])
    html = client.get("/minesafe/").text
    height = SITE.grid.height_m
    truck = html.split('id="map-quarry-0"', 1)[1].split("</g>", 1)[0]
    y = round(height - 500.0, 1)
    assert f'<line class="heading" x1="600.0" y1="{y}" x2="700.0" y2="{y}"/>' in truck
    person = html.split('id="map-quarry-11"', 1)[1].split("</g>", 1)[0]
    assert "heading" not in person
    swing = html.split('class="zone zone-swing" points="', 1)[1].split('"', 1)[0]
    first = tuple(float(v) for v in swing.split()[0].split(","))
    assert first == (1015.0, round(height - 400.0, 1))  # radius 15 m east of the excavator


def test_numbers_of_trackers_side_by_side_do_not_print_over_each_other(database, client):
    """Two trackers 10 m apart: the second's number goes to a free spot around its dot."""
    from tocsin.minesafe.pages import place_labels

    assert place_labels([(100.0, 100.0, "7")]) == [(128.0, 78.0, "start")]
    first, second = place_labels([(100.0, 100.0, "12"), (110.0, 100.0, "13")])
    assert first == (128.0, 78.0, "start") and second != (138.0, 78.0, "start")

    reports = [report(12, T0, 900.0, 700.0, 0.0), report(13, T0, 910.0, 700.0, 0.0)]
    with database.session() as db:
        store.save_reports(db, reports, SITES)
    sign_in(client, database, "op", ["operator"])
    html = client.get("/minesafe/").text
    texts = [
        html.split(f'id="map-quarry-{n}"', 1)[1].split("<text ", 1)[1].split(">", 1)[0] for n in (12, 13)
    ]
    assert texts[0] != texts[1]
