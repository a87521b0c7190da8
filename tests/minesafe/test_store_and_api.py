"""What ingestion keeps — positions, each tracker's latest fix, alarms raised → acknowledged → cleared —
and the JSON API over it, for a signed-in operator or a partner's token; bad input named, never a 500."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from xml.etree import ElementTree

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from tests.support import sign_in
from tocsin.core.audit import events_for
from tocsin.core.auth.partners import upsert_client
from tocsin.minesafe import store
from tocsin.minesafe.model import AlarmEvent, Kind, Level, Report
from tocsin.minesafe.models import Alarm, Position, Tracker
from tocsin.minesafe.site import load_example_site

SITE = load_example_site()
SITES = {SITE.name: SITE}
T0 = datetime(2026, 11, 20, 8, 0, tzinfo=UTC).timestamp()  # the fixed clock's day, 08:00 UTC


def report(tracker: int, t: float, x: float = 500.0, y: float = 400.0, speed: float = 5.0) -> Report:
    kind = SITE.trackers[tracker].kind
    return Report(t=t, tracker=SITE.tracker_key(tracker), kind=kind, x=x, y=y, speed=speed, site=SITE.name)


def collision(state: str, t: float, level: Level = Level.WARNING) -> AlarmEvent:
    return AlarmEvent(
        t=t, type="collision", level=level, ids=("quarry:1", "quarry:0"), state=state, distance=42.0
    )


@pytest.fixture
def client(app) -> TestClient:
    return TestClient(app, base_url="http://testserver")


def saved(database, reports=(), events=(), now=None) -> list[Alarm]:
    with database.session() as db:
        store.save_reports(db, list(reports), SITES)
        return store.save_events(db, events, site=SITE.name, now=now or datetime.fromtimestamp(T0, UTC))


def test_positions_are_kept_and_the_latest_fix_is_the_trackers(database, client):
    saved(database, [report(0, T0, 100.0), report(0, T0 + 1, 110.0), report(5, T0 + 1)])
    saved(database, [report(0, T0 - 10, 50.0)])  # late: kept in the history, not the latest fix
    sign_in(client, database, "op", ["operator"])
    trackers = {t["id"]: t for t in client.get("/minesafe/api/trackers").json()}
    assert set(trackers) == {"quarry:0", "quarry:5"}
    truck = trackers["quarry:0"]
    assert truck["class"] == "haul_truck" and truck["site"] == "quarry" and truck["silent"] is False
    assert truck["last_fix"]["time"] == "2026-11-20T08:00:01Z" and truck["last_fix"]["speed_mps"] == 5.0
    lat, lon = SITE.grid.to_wgs84(110.0, 400.0)
    assert truck["last_fix"]["latitude"] == pytest.approx(lat) and truck["last_fix"][
        "longitude"
    ] == pytest.approx(lon)
    history = client.get(
        "/minesafe/api/trackers/quarry:0/positions",
        params={"since": "2026-11-20T07:59:00Z", "until": "2026-11-20T08:01:00+00:00"},
    ).json()
    assert [p["time"] for p in history["positions"]] == [
        "2026-11-20T07:59:50Z",
        "2026-11-20T08:00:00Z",
        "2026-11-20T08:00:01Z",
    ]


def test_an_alarm_goes_raised_acknowledged_cleared_and_a_worse_level_needs_a_new_ack(database, client):
    (alarm,) = saved(database, events=[collision("raised", T0)])
    assert (alarm.state, alarm.level, alarm.trackers) == ("raised", "WARNING", ["quarry:0", "quarry:1"])
    csrf = sign_in(client, database, "op", ["operator"])
    acked = client.post(f"/minesafe/api/alarms/{alarm.id}/ack", headers={"X-CSRF-Token": csrf})
    assert acked.status_code == 200, acked.text
    assert acked.json()["state"] == "acknowledged" and acked.json()["acknowledged_by"] == "staff:op"
    again = client.post(f"/minesafe/api/alarms/{alarm.id}/ack", headers={"X-CSRF-Token": csrf})
    assert again.json()["acknowledged_at"] == acked.json()["acknowledged_at"]  # twice changes nothing
    saved(database, events=[collision("raised", T0 + 2, Level.DANGER)])
    worse = client.get("/minesafe/api/alarms").json()[0]
    assert (worse["id"], worse["state"], worse["level"]) == (alarm.id, "raised", "DANGER")
    saved(database, events=[collision("cleared", T0 + 9)])
    cleared = client.get("/minesafe/api/alarms").json()[0]
    assert cleared["state"] == "cleared" and cleared["cleared_at"] == "2026-11-20T08:00:09Z"
    (fresh,) = saved(database, events=[collision("raised", T0 + 30)])
    assert fresh.id != alarm.id  # the same pair again is a new alarm
    with database.session() as db:
        assert [e.actor for e in events_for(db, object_type="alarm", object_id=alarm.id)] == ["staff:op"]


def test_a_partner_token_reads_and_acknowledges(database, client, clock):
    (alarm,) = saved(database, events=[collision("raised", T0)])
    with database.session() as db:
        scopes = ["read:minesafe", "write:minesafe"]
        upsert_client(
            db, client_id="scada", secret="s" * 24, owner="SCADA", scopes=scopes, managed_by="t", now=clock()
        )
    reply = client.post("/oauth/token", data={"grant_type": "client_credentials"}, auth=("scada", "s" * 24))
    headers = {"Authorization": f"Bearer {reply.json()['access_token']}"}
    assert client.get("/minesafe/api/alarms", headers=headers).status_code == 200
    acked = client.post(f"/minesafe/api/alarms/{alarm.id}/ack", headers=headers)
    assert acked.json()["acknowledged_by"] == "partner:SCADA"


@pytest.mark.parametrize(
    ("method", "path", "params", "field", "status"),
    [
        ("get", "/minesafe/api/trackers/quarry:0/positions", {"since": "yesterday"}, "since", 400),
        ("get", "/minesafe/api/trackers/quarry:0/positions", {"until": "2026-13-01T00:00:00Z"}, "until", 400),
        (
            "get",
            "/minesafe/api/trackers/quarry:0/positions",
            {"since": "2026-11-20T09:00:00Z", "until": "2026-11-20T08:00:00Z"},
            "since",
            400,
        ),
        (
            "get",
            "/minesafe/api/trackers/quarry:0/positions",
            {"since": "2026-01-01T00:00:00Z", "until": "2026-11-20T08:00:00Z"},
            "since",
            400,
        ),
        ("get", "/minesafe/api/trackers/nobody/positions", {}, "tracker_id", 404),
        ("get", "/minesafe/api/alarms", {"since": "9999-99-99"}, "since", 400),
        ("post", "/minesafe/api/alarms/999999/ack", {}, "alarm_id", 404),
    ],
)
def test_bad_input_is_answered_naming_the_field(database, client, method, path, params, field, status):
    saved(database, [report(0, T0)])
    csrf = sign_in(client, database, "op", ["operator"])
    reply = getattr(client, method)(
        path, params=params, headers={"X-CSRF-Token": csrf, "Accept": "application/json"}
    )
    assert reply.status_code == status, reply.text
    assert reply.json()["field"] == field


def test_who_may_do_what(database, client):
    (alarm,) = saved(database, events=[collision("raised", T0)])
    assert client.get("/minesafe/api/trackers").status_code == 401  # nobody signed in, no token
    assert client.get("/minesafe/api/alarms", headers={"Authorization": "Bearer forged"}).status_code == 401
    csrf = sign_in(client, database, "viewer", ["viewer"])
    assert client.get("/minesafe/api/alarms").status_code == 200
    assert (
        client.post(f"/minesafe/api/alarms/{alarm.id}/ack", headers={"X-CSRF-Token": csrf}).status_code == 403
    )
    sign_in(client, database, "op", ["operator"])
    assert client.post(f"/minesafe/api/alarms/{alarm.id}/ack").status_code == 403  # no CSRF token
    with database.session() as db:
        assert db.get(Alarm, alarm.id).state == "raised"
    sign_in(client, database, "tech", ["technician"])
    assert client.get("/minesafe/api/trackers").status_code == 403


def test_a_silent_tracker_is_flagged_until_it_is_heard_again(database, client):
    saved(database, [report(3, T0)])
    silent = AlarmEvent(t=T0 + 60, type="silent", level=Level.WARNING, ids=("quarry:3",))
    saved(database, events=[silent])
    sign_in(client, database, "op", ["operator"])
    assert client.get("/minesafe/api/trackers").json()[0]["silent"] is True
    saved(database, [report(3, T0 + 70)])
    assert client.get("/minesafe/api/trackers").json()[0]["silent"] is False


def test_a_thousand_reports_are_one_insert_and_every_one_is_kept(database):
    reports = [report(n % 20, T0 + n / 20, 100.0 + n % 50, 200.0) for n in range(1000)]
    saved(database, reports)
    with database.session() as db:
        assert db.scalar(select(func.count()).select_from(Position)) == 1000
        assert db.scalar(select(func.max(Position.at))) == datetime.fromtimestamp(T0, UTC) + timedelta(
            seconds=49.95
        )


def test_positions_export_as_csv_and_gpx_and_alarms_as_csv(database, client):
    saved(database, [report(0, T0, 100.0), report(0, T0 + 1, 110.0)], [collision("raised", T0)])
    sign_in(client, database, "op", ["operator"])
    period = {"since": "2026-11-20T07:00:00Z", "until": "2026-11-20T09:00:00Z"}
    csv_reply = client.get("/minesafe/api/trackers/quarry:0/positions.csv", params=period)
    assert csv_reply.status_code == 200 and csv_reply.headers["content-type"].startswith("text/csv")
    assert 'filename="quarry_0.csv"' in csv_reply.headers["content-disposition"]
    lines = csv_reply.text.splitlines()
    assert lines[0] == "time,latitude,longitude,x,y,speed_mps,heading,sos" and len(lines) == 3
    assert lines[1].startswith("2026-11-20T08:00:00Z,")
    gpx_reply = client.get("/minesafe/api/trackers/quarry:0/positions.gpx", params=period)
    root = ElementTree.fromstring(gpx_reply.content)
    ns = {"g": "http://www.topografix.com/GPX/1/1"}
    points = root.findall("g:trk/g:trkseg/g:trkpt", ns)
    assert root.get("version") == "1.1" and root.find("g:trk/g:name", ns).text == "quarry:0"
    assert [p.find("g:time", ns).text for p in points] == ["2026-11-20T08:00:00Z", "2026-11-20T08:00:01Z"]
    lat, lon = SITE.grid.to_wgs84(110.0, 400.0)
    assert float(points[1].get("lat")) == pytest.approx(lat, abs=1e-6)
    assert float(points[1].get("lon")) == pytest.approx(lon, abs=1e-6)
    alarms_csv = client.get("/minesafe/api/alarms.csv").text.splitlines()
    assert alarms_csv[0].startswith("id,site,type,level,trackers,state")
    assert ",collision,WARNING,quarry:0 quarry:1,raised," in alarms_csv[1]
    bad = client.get("/minesafe/api/trackers/quarry:0/positions.gpx", params={"since": "<x/>"})
    assert bad.status_code == 400 and bad.json()["field"] == "since"


def test_a_radio_trackers_heading_comes_from_its_track(database):
    """Radio packets carry no heading: the stored one is the bearing from the previous fix (east = 90°),
    kept over a step shorter than the GNSS noise, and none when standing."""
    sites = {SITE.name: SITE}

    def fix(t: float, x: float, y: float, speed: float) -> None:
        report = Report(t=t, tracker="quarry:0", kind=Kind.HAUL_TRUCK, x=x, y=y, speed=speed, site=SITE.name)
        with database.session() as db:
            store.save_reports(db, [report], sites)

    def heading() -> float | None:
        with database.session() as db:
            return db.get(Tracker, "quarry:0").heading

    fix(T0, 500.0, 500.0, 8.0)
    assert heading() is None  # nothing to take a bearing from yet
    fix(T0 + 1, 508.0, 500.0, 8.0)
    assert heading() == pytest.approx(90.0)
    fix(T0 + 2, 509.0, 499.0, 8.0)  # a 1.4 m step: noise, the heading stays
    assert heading() == pytest.approx(90.0)
    fix(T0 + 3, 509.0, 491.0, 8.0)
    assert heading() == pytest.approx(180.0)
    fix(T0 + 4, 509.0, 491.0, 0.0)
    assert heading() is None


def test_the_masts_and_the_muster_answer_in_json(database, client, clock):
    """Masts: every mast of the site, the one that reported first with its health; muster: who is in
    the pit now (fixes of the last 10 minutes), people first, counted per zone."""
    from tocsin.minesafe.ingest import simulated
    from tocsin.minesafe.models import Mast

    now = clock()
    blast = next(zone for zone in SITE.zones if zone.kind == "blast")
    bx = sum(x for x, _ in blast.polygon) / len(blast.polygon)
    by = sum(y for _, y in blast.polygon) / len(blast.polygon)
    t = now.timestamp() - 60
    reports = [
        Report(t=t, tracker="quarry:11", kind=Kind.PERSON, x=bx, y=by, speed=0.0, site=SITE.name),
        Report(t=t, tracker="quarry:0", kind=Kind.HAUL_TRUCK, x=300.0, y=300.0, speed=5.0, site=SITE.name),
        Report(
            t=t - 3600, tracker="quarry:1", kind=Kind.HAUL_TRUCK, x=400.0, y=300.0, speed=0.0, site=SITE.name
        ),
    ]
    gateway = simulated.gateway_eui(SITE, SITE.masts[0].id)
    with database.session() as db:
        store.save_reports(db, reports, SITES)
        db.add(
            Mast(
                gateway=gateway, site=SITE.name, online=True, last_heard=now, last_rssi=-70.0, updated_at=now
            )
        )
    sign_in(client, database, "viewer", ["viewer"])

    masts = client.get("/minesafe/api/masts").json()
    assert len(masts) == len(SITE.masts)
    heard = next(m for m in masts if m["gateway"] == gateway)
    assert (heard["health"], heard["online"], heard["rssi_dbm"]) == ("working", True, -70.0)
    assert {m["health"] for m in masts if m["gateway"] != gateway} == {"unknown"}

    roll = client.get("/minesafe/api/muster").json()
    assert (roll["people"], roll["vehicles"]) == (1, 1)
    assert [p["tracker"] for p in roll["present"]] == ["quarry:11", "quarry:0"]
    assert roll["present"][0]["zones"] == [blast.name]
    counted = next(z for z in roll["zones"] if z["zone"] == blast.name)
    assert (counted["people"], counted["vehicles"]) == (1, 0)
