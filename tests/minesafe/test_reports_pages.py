"""The dispatch room's history playback (``/minesafe/playback``) and reports (``/minesafe/reports``): a
day of stored positions and alarms with known counts gives each report's numbers exactly, on the page
and in its CSV export; bad periods answer 400 naming the field; Russian by default, English too; viewers
read, anonymous visitors are sent to sign in."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient

from tests.support import sign_in
from tocsin.minesafe import store
from tocsin.minesafe.model import AlarmEvent, Level, Report
from tocsin.minesafe.models import Tracker
from tocsin.minesafe.site import load_example_site

SITE = load_example_site()
SITES = {SITE.name: SITE}
# The clock stands at 2026-11-20 09:00 UTC, 14:00 in Yekaterinburg: the day shift runs 03:00–15:00 UTC.


def at(hour: int, minute: int = 0, second: float = 0.0, day: int = 20) -> float:
    whole = int(second)
    moment = datetime(2026, 11, day, hour, minute, whole, int((second - whole) * 1e6), tzinfo=UTC)
    return moment.timestamp()


def report(tracker: int, t: float, x: float, y: float) -> Report:
    key = SITE.tracker_key(tracker)
    return Report(t=t, tracker=key, kind=SITE.trackers[tracker].kind, x=x, y=y, speed=3.0, site=SITE.name)


def event(t: float, kind: str, level: Level, *ids: int, state: str = "raised", **more) -> AlarmEvent:
    keys = tuple(SITE.tracker_key(i) for i in ids)
    return AlarmEvent(t=t, type=kind, level=level, ids=keys, state=state, **more)


D, W = Level.DANGER, Level.WARNING
POSITIONS = [
    report(0, at(3, 30), 600.0, 500.0),
    report(0, at(4, 0), 1000.0, 700.0),
    report(0, at(8, 10), 1200.0, 800.0),
    report(0, at(8, 10, 0.5), 1290.0, 890.0),  # the same second: the playback keeps the first
    report(0, at(8, 30), 800.0, 600.0),
    report(11, at(8, 10), 1210.0, 810.0),
    report(1, at(8, 0, 20), 300.0, 1250.0),
]
EVENTS = [
    event(at(2, 0), "run_over", D, 9, 17, distance=8.0),  # the night shift before
    event(at(3, 30), "run_over", D, 0, 11, distance=12.5, cpa=4.2),
    event(at(3, 31), "run_over", D, 0, 11, state="cleared"),
    event(at(4, 0, 10), "collision", D, 0, 1, distance=30.0),
    event(at(4, 0, 20), "collision", D, 0, 1, state="cleared"),
    event(at(4, 0, 40), "collision", D, 0, 1, distance=25.0),
    event(at(5, 0), "collision", W, 2, 3, distance=60.0),  # a warning: no near miss
    event(at(5, 0), "overspeed", W, 1, zone="ramp"),
    event(at(5, 2), "overspeed", W, 1, zone="ramp", state="cleared"),
    event(at(6, 0), "overspeed", W, 1, zone="ramp"),
    event(at(6, 0, 30), "overspeed", W, 1, zone="ramp", state="cleared"),
    event(at(6, 0), "low_battery", W, 12, detail={"battery": "first_empty"}),
    event(at(6, 30), "low_battery", W, 12, state="cleared"),
    event(at(7, 0), "low_battery", D, 12, detail={"battery": "both_empty"}),
    event(at(7, 0), "silent", W, 14),
    event(at(7, 10), "silent", W, 14, state="cleared"),
    event(at(8, 0), "silent", W, 15),
    event(at(8, 10), "run_over", D, 0, 11, distance=9.0, cpa=2.5),
    event(at(8, 20), "run_over", D, 0, 11, state="cleared"),
    event(at(8, 50), "overspeed", W, 2, zone="ramp"),
]


def stored_history(database) -> dict[str, int]:
    """A shift of positions and alarms; returns the number of the run-over alarm at 08:10 UTC."""
    with database.session() as db:
        store.save_reports(db, POSITIONS, SITES)
        ids = {}
        for e in EVENTS:
            for alarm in store.save_events(db, [e], site=SITE.name, now=datetime.fromtimestamp(e.t, UTC)):
                ids[(alarm.type, alarm.raised_at.timestamp())] = alarm.id
        late = ids[("run_over", at(8, 10))]
        store.acknowledge(db, late, by="op", now=datetime.fromtimestamp(at(8, 11), UTC))
        blaster = Tracker(id="quarry:12", site="quarry", kind="person", label="", sos=False, silent=False)
        blaster.battery_percent = 15.0
        db.add(blaster)
        return {"late_run_over": late}


@pytest.fixture
def client(app) -> TestClient:
    return TestClient(app, base_url="http://testserver")


def rows_of(reply) -> list[dict[str, str]]:
    assert reply.status_code == 200, reply.text
    assert reply.headers["content-type"].startswith("text/csv")
    assert "attachment" in reply.headers["content-disposition"]
    return list(csv.DictReader(io.StringIO(reply.text)))


def test_the_reports_of_the_current_shift_count_exactly(database, client):
    stored_history(database)
    sign_in(client, database, "op", ["operator"])
    page = client.get("/minesafe/reports")
    assert page.status_code == 200
    html = page.text
    assert 'lang="ru"' in html and "Отчёты" in html and "Опасные сближения: 4." in html
    assert 'value="2026-11-20T08:00"' in html and 'value="2026-11-20T20:00"' in html  # the day shift
    for words in ("Тепловая карта", "Превышение скорости по машинам", "Тревоги по сменам"):
        assert words in html, words
    assert "Неисправности батарей" in html and "Трекеры без связи" in html
    # near misses: four DANGER collisions and run-overs in the shift, the night one and the warning left out
    near = re.findall(r'<tr id="near-(\d+)">', html)
    assert len(near) == 4
    assert "БелАЗ-7547 №1, surveyor" in html and "4,2 м" in html and "12,5 м" in html
    # heat map: 50 m squares of the first tracker's nearest fix
    assert sorted(re.findall(r'data-count="(\d+)"', html.split('id="heat-map"')[1])) == ["1", "1", "2"]
    assert "x 1000–1050, y 700–750" in html
    csv_near = rows_of(client.get("/minesafe/reports/near_misses.csv"))
    assert [r["type"] for r in csv_near] == ["run_over", "collision", "collision", "run_over"]
    assert csv_near[0]["raised_at"] == "2026-11-20 08:30:00" and csv_near[0]["cpa_m"] == "4.2"
    assert csv_near[0]["labels"] == "БелАЗ-7547 №1; surveyor" and csv_near[0]["x_m"] == "600.0"
    assert csv_near[3]["acknowledged_by"] == "op" and csv_near[3]["distance_m"] == "9.0"
    heat = rows_of(client.get("/minesafe/reports/heat_map.csv"))
    assert [(r["x_from_m"], r["y_from_m"], r["near_misses"]) for r in heat] == [
        ("1000.0", "700.0", "2"),
        ("600.0", "500.0", "1"),
        ("1200.0", "800.0", "1"),
    ]
    # speeding per vehicle: truck 2 twice for 2 min 30 s; truck 3 once, still speeding at 09:00 (10 min)
    speeding = rows_of(client.get("/minesafe/reports/speeding.csv"))
    assert [(r["tracker"], r["alarms"], r["still_open"], r["total_seconds"]) for r in speeding] == [
        ("quarry:1", "2", "0", "150"),
        ("quarry:2", "1", "1", "600"),
    ]
    assert 'id="speeding-quarry-1"' in html and "2\xa0мин" in html
    silent = rows_of(client.get("/minesafe/reports/silent.csv"))
    assert [(r["tracker"], r["alarms"], r["still_open"], r["total_seconds"]) for r in silent] == [
        ("quarry:15", "1", "1", "3600"),
        ("quarry:14", "1", "0", "600"),
    ]
    battery = rows_of(client.get("/minesafe/reports/battery.csv"))
    assert [(r["tracker"], r["alarms"], r["danger_alarms"], r["battery_percent"]) for r in battery] == [
        ("quarry:12", "2", "1", "15.0")
    ]
    assert "15\xa0%" in html
    shifts = rows_of(client.get("/minesafe/reports/shifts.csv"))
    counted = {(r["type"], r["level"]): int(r["alarms"]) for r in shifts}
    assert counted == {
        ("collision", "DANGER"): 2,
        ("collision", "WARNING"): 1,
        ("run_over", "DANGER"): 2,
        ("overspeed", "WARNING"): 3,
        ("low_battery", "DANGER"): 1,
        ("low_battery", "WARNING"): 1,
        ("silent", "WARNING"): 2,
    }
    assert {r["shift_start"] for r in shifts} == {"2026-11-20 08:00:00"}
    assert "Тревог: 12" in html


def test_alarms_per_shift_over_a_day_split_at_eight(database, client):
    stored_history(database)
    sign_in(client, database, "gate", ["viewer"])  # a viewer reads the reports
    query = "?from=2026-11-19T20:00&until=2026-11-20T20:00"
    shifts = rows_of(client.get(f"/minesafe/reports/shifts.csv{query}"))
    night = [r for r in shifts if r["shift_start"] == "2026-11-19 20:00:00"]
    assert [(r["shift_end"], r["type"], r["level"], r["alarms"]) for r in night] == [
        ("2026-11-20 08:00:00", "run_over", "DANGER", "1")
    ]
    assert sum(int(r["alarms"]) for r in shifts if r["shift_start"] == "2026-11-20 08:00:00") == 12
    html = client.get(f"/minesafe/reports{query}&lang=en").text
    assert 'lang="en"' in html and "Near misses: 5." in html and "Alarms per shift" in html
    assert "Speeding per vehicle" in html and "Silent trackers" in html and "Battery problems" in html
    assert "Отчёты" not in html
    assert 'href="/minesafe/reports/shifts.csv?from=2026-11-19T20%3A00&amp;until=2026-11-20T20%3A00"' in html


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("from=yesterday", "from"),
        ("until=2026-13-45T99:00", "until"),
        ("from=2026-11-20T10:00&until=2026-11-20T09:00", "until"),
        ("from=2026-10-01T00:00&until=2026-11-20T09:00", "until"),
        ("from=%3Cscript%3Ealert(1)%3C%2Fscript%3E", "from"),
        ("until=" + "9" * 5000, "until"),
        ("from=2026-11-20T10:00%00", "from"),
    ],
)
def test_a_bad_period_of_the_reports_answers_400_naming_the_field(database, client, query, field):
    sign_in(client, database, "op", ["operator"])
    page = client.get(f"/minesafe/reports?{query}")
    assert page.status_code == 400
    assert 'class="error-summary"' in page.text and f'href="#{field}"' in page.text
    assert f'id="{field}"' in page.text and "<script>alert" not in page.text
    exported = client.get(f"/minesafe/reports/speeding.csv?{query}")
    assert exported.status_code == 400 and field in exported.text


@pytest.mark.parametrize(
    ("query", "field", "words"),
    [
        ("from=garbage", "from", "Enter a date and time as YYYY-MM-DD HH:MM."),
        (
            "from=2026-11-20T10:00&until=2026-11-20T10:00",
            "until",
            "The end of the period is before its start.",
        ),
        ("from=2026-11-18T10:00&until=2026-11-20T10:00", "until", "The period is at most 24 hours long."),
        ("until=%27%3B%20DROP%20TABLE%20ms_alarm%3B--", "until", "Enter a date and time"),
    ],
)
def test_a_bad_period_of_the_playback_answers_400_naming_the_field(database, client, query, field, words):
    sign_in(client, database, "op", ["operator"])
    page = client.get(f"/minesafe/playback?{query}&lang=en")
    assert page.status_code == 400
    assert f'href="#{field}"' in page.text and words in page.text
    assert "playback-data" not in page.text


def test_the_playback_embeds_sampled_tracks_and_marks_the_alarms_of_the_period(database, client):
    ids = stored_history(database)
    sign_in(client, database, "gate", ["viewer"])
    page = client.get("/minesafe/playback")  # the last hour: 08:00–09:00 UTC
    assert page.status_code == 200
    html = page.text
    assert 'lang="ru"' in html and "Просмотр истории" in html and 'type="range"' in html
    assert 'value="2026-11-20T13:00"' in html and 'value="2026-11-20T14:00"' in html
    data = json.loads(
        re.search(r'<script type="application/json" id="playback-data">(.*?)</script>', html).group(1)
    )
    assert data["start"] == int(at(8)) and data["length"] == 3600 and data["step"] == 1
    assert data["zone"] == "Asia/Yekaterinburg"
    tracks = {m["dom"]: m["track"] for m in data["markers"]}
    # the truck's last fix before the hour, then one a second (the 08:10:00.5 fix left out); svg y flipped
    assert tracks["pb-quarry-0"] == [[-14400, 1000.0, 800.0], [600, 1200.0, 700.0], [1800, 800.0, 900.0]]
    assert tracks["pb-quarry-1"] == [[20, 300.0, 250.0]]
    # without script, the map shows the trackers at the period's start
    assert re.search(r'id="pb-quarry-0" data-tracker="quarry:0" transform="translate\(1000.0,800.0\)"', html)
    assert re.search(r'class="tracker vehicle absent" id="pb-quarry-1"', html)
    # open at some moment of the hour: five never cleared before it, the run-over, truck 3 speeding
    listed = re.findall(r'<li id="pb-alarm-(\d+)" class="alarm level-(\w+)( active)?"', html)
    assert len(listed) == 7
    assert (
        f'id="pb-alarm-{ids["late_run_over"]}" class="alarm level-danger" data-since="600" data-until="1200"'
        in html
    )
    assert sum(1 for _, _, active in listed if active) == 5  # all but the two raised later in the hour
    assert "/static/minesafe/playback.js" in html and "https://" not in html.split("<main")[1]
    english = client.get("/minesafe/playback?lang=en").text
    assert "History playback" in english and "Alarms of the period" in english and "Play" in english


def test_menu_links_and_who_may_read(database, client):
    anonymous = client.get("/minesafe/reports", follow_redirects=False)
    assert anonymous.status_code in (302, 303) and "login" in anonymous.headers["location"]
    assert client.get("/minesafe/playback", follow_redirects=False).status_code in (302, 303)
    sign_in(client, database, "gate", ["viewer"])
    html = client.get("/minesafe/").text
    assert 'href="/minesafe/playback"' in html and 'href="/minesafe/reports"' in html
    assert "История" in html and "Отчёты" in html
    assert client.get("/minesafe/reports/nothing.csv").status_code == 404
    sign_in(client, database, "tech", ["technician"])
    assert client.get("/minesafe/reports").status_code == 403
    assert client.get("/minesafe/playback").status_code == 403
