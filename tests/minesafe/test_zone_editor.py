"""The zone editor: operators draw, change and remove hazard zones with the page and the JSON API (every
value stored as given, every change audited, every bad field answered 400 by name, viewers refused);
the running ingestion picks a new zone up (a person walking in raises zone_entry) and a blast zone
outside its window raises nothing; the engine clears the alarms of a zone that goes; the orthophoto
takes a real PNG, refuses a text file named .png, and is served back."""

from __future__ import annotations

import asyncio
import struct
import time
import zlib
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.support import run_async, sign_in
from tocsin.core.audit import events_for
from tocsin.minesafe import zones
from tocsin.minesafe.engine import Engine
from tocsin.minesafe.ingest import simulated
from tocsin.minesafe.ingest.pipeline import Ingestion, Phone
from tocsin.minesafe.ingest.runner import build
from tocsin.minesafe.ingest.zones_sync import ZoneKeeper, keep_zones
from tocsin.minesafe.model import Kind, Report, Zone
from tocsin.minesafe.models import ZoneRow
from tocsin.minesafe.site import load_example_site

SITE = load_example_site()
NOW = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)  # the ``clock`` fixture: 14:00 in Yekaterinburg
SQUARE = [[200.0, 600.0], [400.0, 600.0], [400.0, 750.0], [200.0, 750.0]]
SQUARE_TEXT = "200 600\n400 600\n400 750\n200 750"


@pytest.fixture
def client(app) -> TestClient:
    return TestClient(app, base_url="http://testserver")


def form(csrf: str, **values: str) -> dict[str, str]:
    typed = {
        "csrf": csrf,
        "name": "West dump blast",
        "kind": "blast",
        "polygon": SQUARE_TEXT,
        "speed-all": "20",
        "speed-haul_truck": "12.5",
        "active_from": "2026-11-20T13:30",
        "active_until": "2026-11-20T15:00",
        "approach_m": "25",
        "min_overspeed_s": "4",
    }
    return typed | values


def body(**values: object) -> dict[str, object]:
    zone: dict[str, object] = {
        "name": "Loading bay",
        "kind": "speed",
        "polygon": SQUARE,
        "speed_limits": {"*": 15, "light_vehicle": 25.5},
        "min_overspeed_s": 2,
        "approach_m": 5,
        "active_from": None,
        "active_until": None,
    }
    return zone | values


def stored(database) -> list[ZoneRow]:
    with database.session() as db:
        rows = list(db.scalars(select(ZoneRow).order_by(ZoneRow.id)))
        db.expunge_all()
        return rows


# --- the page ----------------------------------------------------------------------------------------


def test_an_operator_draws_changes_and_removes_a_zone_with_the_page(database, client):
    csrf = sign_in(client, database, "op", ["operator"])
    page = client.get("/minesafe/zones")
    assert page.status_code == 200 and "Опасные зоны" in page.text and 'id="zone-map"' in page.text
    assert "blast area bench 1" in page.text and "файл площадки, только чтение" in page.text
    saved = client.post("/minesafe/zones", data=form(csrf), follow_redirects=False)
    assert saved.status_code == 303 and saved.headers["location"].startswith("/minesafe/zones?done=created")
    [row] = stored(database)
    assert (row.site, row.name, row.kind, row.created_by) == ("quarry", "West dump blast", "blast", "op")
    assert row.polygon == SQUARE
    assert row.speed_limits == {"*": 20.0, "haul_truck": 12.5}
    assert (row.approach_m, row.min_overspeed_s) == (25.0, 4.0)
    assert row.active_from == datetime(2026, 11, 20, 8, 30, tzinfo=UTC)  # 13:30 at UTC+5
    assert row.active_until == datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
    assert row.removed_at is None and row.updated_at == NOW
    html = client.get(saved.headers["location"]).text
    assert "Зона West dump blast сохранена." in html and f'id="map-zone-{row.id}"' in html

    edit = client.get(f"/minesafe/zones?edit={row.id}")
    assert 'value="West dump blast"' in edit.text and "13:30" in edit.text and "200 600" in edit.text
    changed = client.post(
        f"/minesafe/zones/{row.id}",
        data=form(
            csrf, name="West dump", kind="pit_edge", active_from="", active_until="", **{"speed-all": ""}
        ),
        follow_redirects=False,
    )
    assert changed.status_code == 303
    [row] = stored(database)
    assert (row.name, row.kind, row.active_from, row.active_until) == ("West dump", "pit_edge", None, None)
    assert row.speed_limits == {"haul_truck": 12.5}

    ask = client.get(f"/minesafe/zones/{row.id}/remove")
    assert ask.status_code == 200 and "Удалить зону West dump?" in ask.text
    assert client.post(f"/minesafe/zones/{row.id}/remove", data={"csrf": "forged"}).status_code == 400
    removed = client.post(f"/minesafe/zones/{row.id}/remove", data={"csrf": csrf}, follow_redirects=False)
    assert removed.status_code == 303
    [row] = stored(database)
    assert row.removed_at == NOW
    assert f'id="map-zone-{row.id}"' not in client.get("/minesafe/zones").text
    assert client.get(f"/minesafe/zones/{row.id}/remove").status_code == 404
    with database.session() as db:
        trail = [e.action for e in events_for(db, object_type=zones.OBJECT_TYPE, object_id=row.id)]
    assert trail == ["minesafe.zone.created", "minesafe.zone.changed", "minesafe.zone.removed"]


BAD_FORMS = [
    ({"name": ""}, "name"),
    ({"name": "x" * 81}, "name"),
    ({"name": "blast area bench 1"}, "name"),  # the site file's
    ({"kind": "volcano"}, "kind"),
    ({"kind": "swing"}, "kind"),
    ({"polygon": "200 600\n400 600"}, "polygon"),
    ({"polygon": "200 600\n400 750\n400 600\n200 750"}, "polygon"),  # a bow tie crosses itself
    ({"polygon": "200 600\n400 600\n9999 750"}, "polygon"),
    ({"polygon": "200 600\n400 nan\n400 750"}, "polygon"),
    ({"polygon": "200 600\n400 inf\n400 750"}, "polygon"),
    ({"polygon": "a b\nc d\ne f"}, "polygon"),
    ({"polygon": "\n".join(f"{300 + i % 7} {700 + i % 5}" for i in range(201))}, "polygon"),
    ({"speed-all": "0"}, "speed-all"),
    ({"speed-haul_truck": "200"}, "speed-haul_truck"),
    ({"speed-person": "fast"}, "speed-person"),
    ({"active_from": "tomorrow"}, "active_from"),
    ({"active_until": "2026-11-20T13:00"}, "active_until"),  # before its start
    ({"approach_m": "-1"}, "approach_m"),
    ({"min_overspeed_s": "nan"}, "min_overspeed_s"),
]


@pytest.mark.parametrize(("values", "field"), BAD_FORMS)
def test_each_bad_field_of_the_page_is_named_and_what_was_typed_kept(database, client, values, field):
    csrf = sign_in(client, database, "op", ["operator"])
    refused = client.post("/minesafe/zones", data=form(csrf, **values))
    assert refused.status_code == 400, refused.text[:300]
    assert 'class="error-summary"' in refused.text and f'href="#{field}"' in refused.text
    assert f'id="{field}-error"' in refused.text
    assert "West dump blast" in refused.text or field == "name"
    assert stored(database) == []


def test_a_second_live_zone_may_not_take_a_name_but_a_removed_one_frees_it(database, client):
    csrf = sign_in(client, database, "op", ["operator"])
    assert client.post("/minesafe/zones", data=form(csrf), follow_redirects=False).status_code == 303
    again = client.post("/minesafe/zones", data=form(csrf))
    assert again.status_code == 400 and 'href="#name"' in again.text
    [row] = stored(database)
    client.post(f"/minesafe/zones/{row.id}/remove", data={"csrf": csrf})
    assert client.post("/minesafe/zones", data=form(csrf), follow_redirects=False).status_code == 303
    assert [r.removed_at is None for r in stored(database)] == [False, True]


def test_a_viewer_sees_the_zones_but_cannot_write(database, client):
    op = sign_in(client, database, "op", ["operator"])
    client.post("/minesafe/zones", data=form(op))
    [row] = stored(database)
    csrf = sign_in(client, database, "gate", ["viewer"])
    page = client.get("/minesafe/zones")
    assert page.status_code == 200 and "West dump blast" in page.text
    assert 'id="zone-form"' not in page.text and "zones.js" not in page.text
    assert client.post("/minesafe/zones", data=form(csrf)).status_code == 403
    assert client.post(f"/minesafe/zones/{row.id}", data=form(csrf)).status_code == 403
    assert client.post(f"/minesafe/zones/{row.id}/remove", data={"csrf": csrf}).status_code == 403
    headers = {"X-CSRF-Token": csrf}
    assert client.get("/minesafe/api/zones").status_code == 200
    assert client.post("/minesafe/api/zones", json=body(), headers=headers).status_code == 403
    assert client.put(f"/minesafe/api/zones/{row.id}", json=body(), headers=headers).status_code == 403
    assert client.delete(f"/minesafe/api/zones/{row.id}", headers=headers).status_code == 403
    sign_in(client, database, "tech", ["technician"])
    assert client.get("/minesafe/zones").status_code == 403
    assert stored(database)[0].name == "West dump blast" and stored(database)[0].removed_at is None


# --- the API -----------------------------------------------------------------------------------------


def test_the_api_creates_lists_changes_and_removes_a_zone(database, client):
    csrf = sign_in(client, database, "op", ["operator"])
    headers = {"X-CSRF-Token": csrf}
    assert client.post("/minesafe/api/zones", json=body()).status_code == 403  # no CSRF header
    made = client.post("/minesafe/api/zones", json=body(), headers=headers)
    assert made.status_code == 201
    zone = made.json()
    assert zone["name"] == "Loading bay" and zone["polygon"] == SQUARE
    assert zone["speed_limits"] == {"*": 15.0, "light_vehicle": 25.5}
    assert (zone["min_overspeed_s"], zone["approach_m"], zone["created_by"]) == (2.0, 5.0, "staff:op")
    window = {"active_from": "2026-11-21T10:00:00+05:00", "active_until": "2026-11-21T11:30:00Z"}
    changed = client.put(
        f"/minesafe/api/zones/{zone['id']}", json=body(kind="blast", **window), headers=headers
    )
    assert changed.status_code == 200
    assert changed.json()["active_from"] == "2026-11-21T05:00:00Z"
    assert changed.json()["active_until"] == "2026-11-21T11:30:00Z"
    [listed] = client.get("/minesafe/api/zones").json()
    assert listed["kind"] == "blast" and listed["active"] is False  # its window is tomorrow
    [row] = stored(database)
    assert row.active_from == datetime(2026, 11, 21, 5, 0, tzinfo=UTC)
    assert client.delete(f"/minesafe/api/zones/{zone['id']}", headers=headers).status_code == 204
    assert client.get("/minesafe/api/zones").json() == []
    assert client.delete(f"/minesafe/api/zones/{zone['id']}", headers=headers).status_code == 404
    assert stored(database)[0].removed_at == NOW
    with database.session() as db:
        trail = events_for(db, object_type=zones.OBJECT_TYPE, object_id=zone["id"])
    assert [(e.action, e.actor) for e in trail] == [
        ("minesafe.zone.created", "staff:op"),
        ("minesafe.zone.changed", "staff:op"),
        ("minesafe.zone.removed", "staff:op"),
    ]
    assert trail[1].detail["before"]["kind"] == "speed" and trail[1].detail["after"]["kind"] == "blast"


BAD_BODIES = [
    (body(name=""), "name"),
    (body(name=42), "name"),
    (body(name="y" * 81), "name"),
    (body(name="crusher yard"), "name"),
    (body(kind="lava"), "kind"),
    (body(kind=None), "kind"),
    (body(polygon=[[200, 600], [400, 600]]), "polygon"),
    (body(polygon="200 600 400 600 400 750"), "polygon"),
    (body(polygon=[[200, 600], [400, 600], [400, "750"]]), "polygon"),
    (body(polygon=[[200, 600], [400, 600], [400, 750, 3]]), "polygon"),
    (body(polygon=[[-5, 600], [400, 600], [400, 750]]), "polygon"),
    (body(polygon=[[200, 600], [400, 750], [400, 600], [200, 750]]), "polygon"),
    (body(polygon=[[200, 600], [300, 600], [400, 600]]), "polygon"),  # no area
    (body(polygon=[[300 + i % 9, 700 + i % 4] for i in range(100_000)]), "polygon"),
    (body(speed_limits={"*": 0}), "speed_limits.*"),
    (body(speed_limits={"*": 250}), "speed_limits.*"),
    (body(speed_limits={"person": "5"}), "speed_limits.person"),
    (body(speed_limits={"person": True}), "speed_limits.person"),
    (body(speed_limits={"horse": 5}), "speed_limits"),
    (body(speed_limits=[5]), "speed_limits"),
    (body(min_overspeed_s=-1), "min_overspeed_s"),
    (body(approach_m="far"), "approach_m"),
    (body(active_from="yesterday"), "active_from"),
    (body(active_until=12), "active_until"),
    (body(active_from="2026-11-21T10:00:00Z", active_until="2026-11-21T09:00:00Z"), "active_until"),
    (body(active_from="2026-11-21T10:00:00Z", active_until="2026-11-21T10:00:00Z"), "active_until"),
    ([1, 2, 3], "body"),
]


@pytest.mark.parametrize(("payload", "field"), BAD_BODIES)
def test_each_bad_field_of_the_api_answers_400_naming_it(database, client, payload, field):
    csrf = sign_in(client, database, "op", ["operator"])
    headers = {"X-CSRF-Token": csrf, "Accept": "application/json"}
    refused = client.post("/minesafe/api/zones", json=payload, headers=headers)
    assert refused.status_code == 400, refused.text[:300]
    assert refused.json()["field"] == field
    assert stored(database) == []


def test_nan_infinity_and_broken_json_answer_400_never_500(database, client):
    csrf = sign_in(client, database, "op", ["operator"])
    headers = {"X-CSRF-Token": csrf, "Accept": "application/json", "Content-Type": "application/json"}
    nan = b'{"name": "n", "kind": "blast", "polygon": [[200, 600], [400, NaN], [400, 750]]}'
    inf = nan.replace(b"NaN", b"1e400")  # Python's JSON reads it as infinity
    huge = b'{"polygon": [' + b"[1, 2], " * 300_000 + b"[1, 2]]}"
    cases = [
        (nan, "polygon"),
        (inf, "polygon"),
        (b"{", "body"),
        (b"\xff\xfe", "body"),
        (b"[" * 100_000, "body"),
    ]
    for raw, field in [*cases, (huge, "body")]:
        refused = client.post("/minesafe/api/zones", content=raw, headers=headers)
        assert refused.status_code == 400 and refused.json()["field"] == field
    assert client.put("/minesafe/api/zones/abc", json=body(), headers=headers).status_code == 400
    assert client.put("/minesafe/api/zones/99", json=body(), headers=headers).status_code == 404


# --- the engine and the live ingestion ----------------------------------------------------------------


def walk_in(engine: Engine, tracker: str, start: float) -> list:
    events = []
    for step in range(12):
        x = 150.0 + 10 * step
        events += engine.ingest(
            Report(t=start + step, tracker=tracker, kind=Kind.PERSON, x=x, y=650.0, speed=1.2)
        )
    return events


def test_set_zones_clears_the_alarms_of_a_zone_that_goes_and_keeps_the_others_quiet():
    square = Zone("square", "pit_edge", tuple((x, y) for x, y in SQUARE))
    fast = Zone(
        "fast", "speed", tuple((x, y) for x, y in SQUARE), speed_limits={"*": 1.0}, min_overspeed_s=1.0
    )
    engine = Engine(zones=[square, fast])
    events = walk_in(engine, "p1", 1000.0)
    assert ("zone_entry", "raised") in {(e.type, e.state) for e in events if e.zone == "square"}
    assert ("overspeed", "raised") in {(e.type, e.state) for e in events if e.zone == "fast"}
    assert engine.set_zones([square, fast]) == []  # unchanged: nothing raised or cleared again
    cleared = engine.set_zones([fast])
    assert [(e.type, e.state, e.zone, e.ids) for e in cleared] == [
        ("zone_entry", "cleared", "square", ("p1",))
    ]
    assert engine.zones == (fast,)
    cleared = engine.set_zones([])
    assert [(e.type, e.state, e.zone) for e in cleared] == [("overspeed", "cleared", "fast")]
    later = engine.ingest(Report(t=1012.0, tracker="p1", kind=Kind.PERSON, x=260.0, y=650.0, speed=1.2))
    assert [e for e in later if e.zone] == []
    assert engine.set_zones([square]) == []
    again = engine.ingest(Report(t=1013.0, tracker="p1", kind=Kind.PERSON, x=261.0, y=650.0, speed=1.2))
    assert ("zone_entry", "raised") in {(e.type, e.state) for e in again if e.zone == "square"}


def add_zone(database, **values: object) -> ZoneRow:
    data = zones.zone_from_json(body(**values), SITE.grid)
    with database.session() as db:
        row = zones.create_zone(db=db, site=SITE, data=data, actor="op", now=NOW)
        db.expunge(row)
        return row


def ingesting():
    phones = {"w7": Phone("w7", SITE.name, Kind.PERSON)}
    events: list = []
    service = build(
        Ingestion({SITE.name: SITE}, simulated.gateways(SITE), phones=phones), on_events=events.extend
    )
    return service, events


def walk(service, start: float) -> None:
    for step in range(12):
        x = 150.0 + 10 * step
        report = Report(
            t=start + step, tracker="phone:w7", kind=Kind.PERSON, x=x, y=650.0, speed=1.2, site=SITE.name
        )
        service.accept_reports([report])
        service.batcher.flush()


async def until(condition, deadline_s: float = 10.0) -> None:
    deadline = time.monotonic() + deadline_s
    while not condition():
        assert time.monotonic() < deadline, "the condition was not met in time"
        await asyncio.sleep(0.01)


def test_keep_zones_brings_a_new_zone_to_the_running_engine_and_a_person_walking_in_raises_zone_entry(
    database,
):
    service, events = ingesting()
    engine = service.batcher.engine(SITE.name)
    keeper = ZoneKeeper(service, database, clock=lambda: NOW)

    async def scenario() -> None:
        task = asyncio.create_task(keep_zones(service, database, every_s=0.02, keeper=keeper))
        try:
            await until(lambda: keeper.changes >= 1)
            add_zone(database, name="Drawn pit edge", kind="pit_edge", speed_limits={})
            await until(lambda: "Drawn pit edge" in {zone.name for zone in engine.zones})
        finally:
            task.cancel()

    run_async(scenario())
    assert {zone.name for zone in SITE.zones} < {zone.name for zone in engine.zones}
    walk(service, 1_796_000_000.0)
    entries = [e for e in events if e.type == "zone_entry" and e.zone == "Drawn pit edge"]
    assert [(e.state, e.ids) for e in entries] == [("raised", ("phone:w7",))]


def test_a_blast_zone_outside_its_window_raises_nothing_and_inside_it_raises(database):
    tomorrow = {"active_from": "2026-11-21T08:00:00Z", "active_until": "2026-11-21T09:00:00Z"}
    add_zone(database, name="Blast tomorrow", kind="blast", speed_limits={}, **tomorrow)
    service, events = ingesting()
    moment = [NOW]
    keeper = ZoneKeeper(service, database, clock=lambda: moment[0])
    run_async(keeper.sync())
    engine = service.batcher.engine(SITE.name)
    assert "Blast tomorrow" not in {zone.name for zone in engine.zones}
    walk(service, 1_796_000_000.0)
    assert [e for e in events if e.zone == "Blast tomorrow"] == []
    moment[0] = NOW + timedelta(days=1, minutes=-30)  # 08:30 UTC tomorrow: inside the window
    assert run_async(keeper.sync()) == 1
    walk(service, 1_796_000_100.0)
    assert {(e.type, e.state) for e in events if e.zone == "Blast tomorrow"} >= {("zone_entry", "raised")}
    moment[0] = NOW + timedelta(days=1, hours=2)  # the window closed: the open alarm clears
    events.clear()
    assert run_async(keeper.sync()) == 1
    assert ("zone_entry", "cleared") in {(e.type, e.state) for e in events if e.zone == "Blast tomorrow"}


# --- the orthophoto -----------------------------------------------------------------------------------


def png(width: int = 50, height: int = 30) -> bytes:
    """A valid RGB PNG (signature, IHDR, one zlib IDAT, IEND), each chunk with its CRC."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    raw = b"".join(
        b"\x00" + b"".join(bytes((x * 5 % 256, y * 8 % 256, 120)) for x in range(width))
        for y in range(height)
    )
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def test_the_orthophoto_takes_a_png_refuses_text_named_png_and_is_served_back(database, client, clamd):
    csrf = sign_in(client, database, "op", ["operator"])
    picture = png()
    saved = client.post(
        "/minesafe/orthophoto",
        data={"csrf": csrf},
        files={"file": ("survey.png", picture, "image/png")},
        follow_redirects=False,
    )
    assert saved.status_code == 303, saved.text[:500]
    page = client.get("/minesafe/zones").text
    assert "survey.png" in page and '<image class="orthophoto" href="/minesafe/orthophoto/quarry?v=' in page
    served = client.get("/minesafe/orthophoto/quarry")
    assert served.status_code == 200 and served.content == picture
    assert (
        served.headers["content-type"] == "image/png"
        and served.headers["x-content-type-options"] == "nosniff"
    )
    dispatch = client.get("/minesafe/").text
    assert 'class="orthophoto"' in dispatch and 'id="orthophoto-shown"' in dispatch

    refused = client.post(
        "/minesafe/orthophoto",
        data={"csrf": csrf},
        files={"file": ("notes.png", b"just some words, not a picture\n" * 20, "image/png")},
    )
    assert refused.status_code == 415 and 'href="#file"' in refused.text and "notes.png" in refused.text
    assert client.get("/minesafe/orthophoto/quarry").content == picture  # the one before stays
    forged = client.post("/minesafe/orthophoto", data={"csrf": "forged"}, files={"file": ("a.png", picture)})
    assert forged.status_code == 400

    sign_in(client, database, "gate", ["viewer"])
    assert client.get("/minesafe/orthophoto/quarry").status_code == 200
    viewer_csrf = client.get("/login").text.split('name="csrf" value="')[1].split('"')[0]
    assert client.post("/minesafe/orthophoto/remove", data={"csrf": viewer_csrf}).status_code == 403

    csrf = sign_in(client, database, "op", ["operator"])
    removed = client.post("/minesafe/orthophoto/remove", data={"csrf": csrf}, follow_redirects=False)
    assert removed.status_code == 303
    assert client.get("/minesafe/orthophoto/quarry").status_code == 404
    assert 'class="orthophoto"' not in client.get("/minesafe/").text
    with database.session() as db:
        trail = [e.action for e in events_for(db, object_type=zones.ORTHOPHOTOS.name, object_id="quarry")]
    assert trail == ["minesafe.orthophoto.uploaded", "minesafe.orthophoto.removed"]
