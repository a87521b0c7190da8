"""Mast health kept and shown, the muster view and the gatehouse console.

The masts' health a real ingestion service took from the gateway bridges' messages (uplinks, stats,
connection state) is written to ``ms_mast`` — only what changed — and survives the database going away
for a while; the dispatch room lists the masts, problems first. The muster page counts people and
vehicles in the pit and in each zone exactly, its CSV says the same; the gatehouse shows alarms with no
way to acknowledge them, even to an operator (its only forms are the charging station's); nobody signed
out sees any of it."""

from __future__ import annotations

import asyncio
import csv
import io
import re
import shutil
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from chirpstack_api import gw
from fastapi.testclient import TestClient
from google.protobuf.timestamp_pb2 import Timestamp
from sqlalchemy import select

from tests.minesafe.test_dispatch_pages import SITE, SITES, T0, report, stored
from tests.minesafe.test_ingest_chirpstack_bridge import frame_of
from tests.support import run_async, sign_in
from tocsin.core.db import Database
from tocsin.core.live.events import LiveEvent
from tocsin.core.migrate import upgrade
from tocsin.minesafe import store
from tocsin.minesafe.ingest import chirpstack, simulated
from tocsin.minesafe.ingest.masts import MastKeeper, keep_masts
from tocsin.minesafe.ingest.pipeline import Ingestion
from tocsin.minesafe.ingest.runner import build
from tocsin.minesafe.models import Mast

NOW = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)  # the app's fixed clock
NORTH_WEST, NORTH_EAST, SOUTH = (simulated.gateway_eui(SITE, mast.id) for mast in SITE.masts)
STRANGER = "00000000000000ff"


def service_of_the_quarry():
    ingestion = Ingestion(SITES, simulated.gateways(SITE))
    return build(ingestion, on_events=lambda events: None)


def heard(service, gateway: str, *, at: float, rssi: int, snr: float, seq: int = 1) -> None:
    """A tracker frame as ``gateway``'s bridge publishes it, through the service's MQTT entry."""
    rx = gw.UplinkRxInfo(gateway_id=gateway, rssi=rssi, snr=snr, crc_status=gw.CRCStatus.CRC_OK)
    rx.gw_time.CopyFrom(Timestamp(seconds=int(at)))
    frame = gw.UplinkFrame(phy_payload=frame_of(3, 1200.0, 700.0, seq=seq), rx_info=rx)
    service.accept_mqtt(f"ru864/gateway/{gateway}/event/up", chirpstack.encode(frame, json=True))


def stats(service, gateway: str, *, at: float, received: int, ok: int) -> None:
    message = gw.GatewayStats(gateway_id=gateway, rx_packets_received=received, rx_packets_received_ok=ok)
    message.time.CopyFrom(Timestamp(seconds=int(at)))
    service.accept_mqtt(f"ru864/gateway/{gateway}/event/stats", chirpstack.encode(message, json=False))


def connection(service, gateway: str, online: bool) -> None:
    state = gw.ConnState.State.ONLINE if online else gw.ConnState.State.OFFLINE
    message = gw.ConnState(gateway_id=gateway, state=state)
    service.accept_mqtt(f"ru864/gateway/{gateway}/state/conn", chirpstack.encode(message, json=True))


def masts(database: Database) -> dict[str, Mast]:
    with database.session() as db:
        return {row.gateway: row for row in db.scalars(select(Mast))}


def mast_events(database: Database) -> list[dict]:
    with database.session() as db:
        rows = db.scalars(select(LiveEvent.data).where(LiveEvent.topic == store.TOPIC))
        return [data for data in rows if "masts" in data]


async def until(condition: Callable[[], object], timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("the condition did not come true in time")
        await asyncio.sleep(0.01)


def test_keep_masts_writes_what_changed_and_updates_it(database):
    service = service_of_the_quarry()
    keeper = MastKeeper(service, database, clock=lambda: NOW)
    at = NOW.timestamp() - 5

    async def scenario() -> None:
        task = asyncio.create_task(keep_masts(service, database, every_s=0.01, keeper=keeper))
        try:
            heard(service, NORTH_WEST, at=at, rssi=-87, snr=7.25)
            stats(service, NORTH_EAST, at=at - 20, received=120, ok=118)
            connection(service, SOUTH, online=False)
            heard(service, STRANGER, at=at, rssi=-120, snr=-3.0)  # another site's mast: kept, no site
            await until(lambda: keeper.writes >= 4)
            rows = masts(database)
            assert set(rows) == {NORTH_WEST, NORTH_EAST, SOUTH, STRANGER}
            west = rows[NORTH_WEST]
            assert (west.site, west.online, west.last_rssi, west.last_snr) == ("quarry", None, -87.0, 7.25)
            assert west.last_heard == datetime.fromtimestamp(int(at), UTC) and west.updated_at == NOW
            east = rows[NORTH_EAST]
            assert (east.rx_received, east.rx_ok, east.last_rssi) == (120, 118, None)
            assert east.last_heard == datetime.fromtimestamp(
                int(at - 20), UTC
            )  # its status is a sign of life
            assert rows[SOUTH].online is False and rows[SOUTH].last_heard is None
            assert rows[STRANGER].site == ""

            written = keeper.writes
            heard(service, NORTH_WEST, at=at + 3, rssi=-95, snr=2.5, seq=2)
            connection(service, NORTH_WEST, online=True)
            await until(lambda: keeper.writes > written)
            await asyncio.sleep(0.05)  # a few more intervals with nothing new
            assert keeper.writes == written + 1  # only the mast that changed
            west = masts(database)[NORTH_WEST]
            assert (west.online, west.last_rssi, west.last_snr) == (True, -95.0, 2.5)
        finally:
            task.cancel()

    run_async(scenario())
    told = mast_events(database)
    assert [event["masts"] for event in told] == [4, 1]


def test_the_masts_outlive_a_database_that_goes_away_and_comes_back(tmp_path):
    folder = tmp_path / "data"
    folder.mkdir()
    database = Database(f"sqlite:///{folder / 'tocsin.db'}")
    upgrade(database)
    service = service_of_the_quarry()
    keeper = MastKeeper(service, database, clock=lambda: NOW)
    at = NOW.timestamp()
    try:
        heard(service, NORTH_WEST, at=at, rssi=-80, snr=8.0)
        assert run_async(keeper.flush()) == 1

        database.engine.dispose()
        folder.rename(tmp_path / "away")  # the database file is gone
        heard(service, NORTH_WEST, at=at + 1, rssi=-99, snr=1.0, seq=2)
        heard(service, SOUTH, at=at + 1, rssi=-90, snr=5.0, seq=2)
        assert run_async(keeper.flush()) == 0 and keeper.failures == 1
        assert run_async(keeper.flush()) == 0 and keeper.failures == 2  # tried again, still away

        (tmp_path / "away").rename(folder)  # back
        assert run_async(keeper.flush()) == 2 and keeper.failures == 2
        rows = masts(database)
        assert rows[NORTH_WEST].last_rssi == -99.0 and rows[SOUTH].last_snr == 5.0
        assert run_async(keeper.flush()) == 0  # nothing new
    finally:
        database.engine.dispose()
        shutil.rmtree(tmp_path / "away", ignore_errors=True)


def test_the_dispatch_room_lists_the_masts_problems_first(database, client):
    with database.session() as db:
        db.add_all(
            [
                Mast(gateway=NORTH_WEST, site="quarry", online=True, last_heard=NOW - timedelta(seconds=12)),
                Mast(gateway=NORTH_EAST, site="quarry", online=True, last_heard=NOW - timedelta(seconds=75)),
                Mast(gateway=STRANGER, site="elsewhere", online=False),
            ]
        )
        for row in db.new:
            row.updated_at, row.last_rssi, row.last_snr = NOW, -87.0, 7.5
    sign_in(client, database, "gate", ["viewer"])
    html = client.get("/minesafe/").text
    assert "Мачты" in html and "RSSI -87 дБм, SNR 7,5 дБ" in html
    assert html.index(f'id="mast-{NORTH_EAST}"') < html.index(f'id="mast-{NORTH_WEST}"')  # silent first
    assert html.index(f'id="mast-{SOUTH}"') < html.index(f'id="mast-{NORTH_WEST}"')  # never reported
    assert re.search(rf'id="mast-{NORTH_EAST}"[^>]*data-health="silent"', html)
    assert re.search(rf'id="mast-{NORTH_WEST}"[^>]*data-health="working"', html)
    assert re.search(rf'class="mast mast-unknown" id="map-mast-{SOUTH}"', html)
    assert "Мачт с неисправностью: 2 из 3." in html and STRANGER not in html  # another site's mast


@pytest.fixture
def client(app) -> TestClient:
    return TestClient(app, base_url="http://testserver")


def place(database) -> None:
    """People and vehicles inside and outside the quarry's zones; one fix too old, one off the grid."""
    blast, edge, crusher = (1400.0, 900.0), (1000.0, 1020.0), (2200.0, 1100.0)
    reports = [
        report(11, T0, *blast),  # surveyor, person, blast area
        report(12, T0, 1500.0, 920.0),  # blaster, blast area
        report(10, T0, 1450.0, 900.0),  # drill rig, blast area
        report(13, T0, *edge),  # blaster's helper, pit edge
        report(0, T0, *crusher),  # haul truck, crusher yard
        report(14, T0, 100.0, 100.0),  # crusher fitter, in the pit outside every zone
        report(1, T0, 500.0, 500.0),  # haul truck, outside every zone
        report(15, T0 - 11 * 60, *blast),  # geologist: last fix 12 min ago, not counted
        report(2, T0, -50.0, 700.0),  # a truck off the grid, not counted
    ]
    with database.session() as db:
        store.save_reports(db, reports, SITES)


def zone_count(html: str, anchor: str) -> tuple[int, int]:
    row = re.search(rf'<tr id="{anchor}-count"(.*?)</tr>', html, re.S)
    assert row, anchor
    people = re.search(r'data-people="(\d+)"', row.group(1))
    vehicles = re.search(r'data-vehicles="(\d+)"', row.group(1))
    return int(people.group(1)), int(vehicles.group(1))


def test_the_muster_counts_people_and_vehicles_in_the_pit_and_each_zone(database, client):
    place(database)
    sign_in(client, database, "gate", ["viewer"])
    page = client.get("/minesafe/muster")
    assert page.status_code == 200
    html = page.text
    assert "Кто в карьере" in html and "менее 10 минут назад" in html
    assert re.search(r'id="total-people">4<', html) and re.search(r'id="total-vehicles">3<', html)
    assert re.search(r'id="total-all">7<', html)
    assert zone_count(html, "zone-blast-area-bench-1") == (2, 1)
    assert zone_count(html, "zone-north-pit-edge") == (1, 0)
    assert zone_count(html, "zone-south-slope-slip") == (0, 0)
    assert zone_count(html, "zone-crusher-yard") == (0, 1)
    everyone = html[html.index('id="everyone"') : html.index("</table>", html.index('id="everyone"'))]
    order = re.findall(r'<tr id="everyone-quarry-(\d+)"', everyone)
    assert sorted(order[:4], key=int) == ["11", "12", "13", "14"] and sorted(order[4:], key=int) == [
        "0",
        "1",
        "10",
    ]
    assert "geologist" not in html and "quarry:2" not in html
    assert 'data-live-source="/minesafe/live?after=' in html

    english = client.get("/minesafe/muster?lang=en").text
    assert "Who is in the pit" in english and "less than 10 minutes old" in english


def test_the_roll_call_csv_says_what_the_page_says(database, client):
    place(database)
    sign_in(client, database, "gate", ["viewer"])
    client.get("/minesafe/muster?lang=en")
    reply = client.get("/minesafe/muster.csv")
    assert reply.status_code == 200 and reply.headers["content-type"].startswith("text/csv")
    assert reply.headers["content-disposition"].startswith('attachment; filename="muster-20261120-0900.csv"')
    rows = list(csv.reader(io.StringIO(reply.text)))
    assert rows[0] == ["Class", "Tracker", "Name", "Type", "Zones", "Last fix (UTC)", "Seconds ago"]
    lines = {row[1]: row for row in rows[1:]}
    assert len(rows) == 8 and [row[0] for row in rows[1:]] == ["Person"] * 4 + ["Vehicle"] * 3
    assert lines["quarry:11"][2:5] == ["surveyor", "Person", "blast area bench 1"]
    assert lines["quarry:10"][3:5] == ["Drill rig", "blast area bench 1"]
    assert lines["quarry:0"][4] == "crusher yard" and lines["quarry:14"][4] == ""
    assert lines["quarry:13"][5:] == ["2026-11-20T08:59:00+00:00", "60"]
    by_zone: dict[str, list[str]] = {}
    for row in rows[1:]:
        for zone in filter(None, row[4].split("; ")):
            by_zone.setdefault(zone, []).append(row[0])
    assert {zone: len(kinds) for zone, kinds in by_zone.items()} == {
        "blast area bench 1": 3,
        "north pit edge": 1,
        "crusher yard": 1,
    }


def test_the_gatehouse_shows_alarms_and_counts_and_acknowledges_nothing(database, client):
    stored(database)
    place(database)
    sign_in(client, database, "op", ["operator"])
    page = client.get("/minesafe/gatehouse")
    assert page.status_code == 200
    html = page.text
    assert "Проходная" in html and 'class="sos-banner" role="alert"' in html and "blaster" in html
    assert "Опасность наезда" in html and "Открытые тревоги" in html
    assert re.search(r'id="total-people">\d+<', html)
    assert "/acknowledge" not in html and "Подтвердить" not in html
    forms = re.findall(r"<form[^>]*>", html)
    # Besides the layout's sign-out, only the charging station's two forms: alarms stay read-only here.
    actions = sorted(re.search(r'action="([^"]+)"', form).group(1) for form in forms if "logout" not in form)
    assert actions == ["/minesafe/gatehouse/checkouts", "/minesafe/gatehouse/returns"]
    assert 'data-live-source="/minesafe/live?after=' in html


@pytest.mark.parametrize("path", ["/minesafe/muster", "/minesafe/muster.csv", "/minesafe/gatehouse"])
def test_nobody_signed_out_sees_the_muster_or_the_gatehouse(database, client, path):
    reply = client.get(path, follow_redirects=False)
    assert reply.status_code in (302, 303) and reply.headers["location"].startswith("/login")
    sign_in(client, database, "tech", ["technician"])
    assert client.get(path).status_code == 403
