"""The dispatch room's JSON API (``/minesafe/api/``): trackers with their latest fix, a tracker's
positions over a period, alarms since a moment, acknowledging an alarm, the charging station's
check-outs (handing a tracker out, taking it back). A signed-in session (operator or
viewer; acknowledging: operator) or a partner's bearer token with the scope ``read:minesafe`` (and
``write:minesafe`` to acknowledge, to check trackers out and in, and to draw zones)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from xml.etree import ElementTree

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from tocsin.core.dates import instant
from tocsin.core.errors import DomainError, NotFound
from tocsin.core.exports import Export, csv_text
from tocsin.core.web import Db, shell_of, staff_or_partner
from tocsin.minesafe import checkouts, muster, pages, store, zones
from tocsin.minesafe.models import Alarm, Checkout, Position, Tracker
from tocsin.minesafe.registry import Problems

router = APIRouter(prefix="/minesafe/api", tags=["Minesafe"])
READ = staff_or_partner("read:minesafe", "operator", "viewer")
WRITE = staff_or_partner("write:minesafe", "operator")
MAX_POSITIONS = 10_000
MAX_PERIOD = timedelta(days=31)
GPX_NAMESPACE = "http://www.topografix.com/GPX/1/1"
CSV = "text/csv; charset=utf-8"


def rfc3339(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat().replace("+00:00", "Z")


def tracker_json(tracker: Tracker) -> dict[str, Any]:
    fix = None
    if tracker.last_at is not None:
        fix = {
            "time": rfc3339(tracker.last_at),
            "latitude": tracker.latitude,
            "longitude": tracker.longitude,
            "speed_mps": tracker.speed,
            "heading": tracker.heading,
        }
    return {
        "id": tracker.id,
        "site": tracker.site,
        "class": tracker.kind,
        "label": tracker.label,
        "last_fix": fix,
        "battery_percent": tracker.battery_percent,
        "battery_state": tracker.battery_state,
        "battery_at": rfc3339(tracker.battery_at),
        "assigned_to": tracker.assigned_to,
        "personnel_no": tracker.personnel_no,
        "silent": tracker.silent,
        "sos": tracker.sos,
        "link": None
        if tracker.link_masts is None
        else {"rssi_dbm": tracker.link_rssi, "snr_db": tracker.link_snr, "masts": tracker.link_masts},
    }


def alarm_json(alarm: Alarm) -> dict[str, Any]:
    return {
        "id": alarm.id,
        "site": alarm.site,
        "type": alarm.type,
        "level": alarm.level,
        "trackers": alarm.trackers,
        "state": alarm.state,
        "zone": alarm.zone,
        "distance_m": alarm.distance,
        "raised_at": rfc3339(alarm.raised_at),
        "updated_at": rfc3339(alarm.updated_at),
        "acknowledged_at": rfc3339(alarm.acknowledged_at),
        "acknowledged_by": alarm.acknowledged_by,
        "cleared_at": rfc3339(alarm.cleared_at),
        "detail": alarm.detail,
    }


@router.get("/trackers", summary="Every tracker with its latest fix")
def trackers(db: Db, _: str = Depends(READ)) -> list[dict[str, Any]]:
    return [tracker_json(t) for t in db.scalars(select(Tracker).order_by(Tracker.site, Tracker.id))]


@dataclass(frozen=True)
class Asked:
    """A known tracker and the period asked for (an hour before ``until`` by default, 31 days at most)."""

    tracker: str
    start: datetime
    end: datetime


def asked(
    request: Request,
    db: Db,
    tracker_id: str = Path(max_length=80),
    since: str | None = Query(None, description="RFC 3339; default: an hour before `until`"),
    until: str | None = Query(None, description="RFC 3339, excluded; default: now"),
) -> Asked:
    if db.get(Tracker, tracker_id) is None:
        raise NotFound(f"no tracker {tracker_id!r}", field="tracker_id")
    end = instant(until, field="until") if until is not None else shell_of(request).clock()
    start = instant(since, field="since") if since is not None else end - timedelta(hours=1)
    if start >= end:
        raise DomainError("must be before until", field="since")
    if end - start > MAX_PERIOD:
        raise DomainError("a period of at most 31 days", field="since")
    return Asked(tracker_id, start, end)


@router.get("/trackers/{tracker_id}/positions", summary="A tracker's positions over a period (oldest first)")
def positions(db: Db, period: Asked = Depends(asked), _: str = Depends(READ)) -> dict[str, Any]:
    found = _positions(db, period)
    return {
        "tracker": period.tracker,
        "since": rfc3339(period.start),
        "until": rfc3339(period.end),
        "positions": found,
    }


@router.get("/trackers/{tracker_id}/positions.csv", summary="The same positions as CSV")
def positions_csv(db: Db, period: Asked = Depends(asked), _: str = Depends(READ)) -> Response:
    header = ["time", "latitude", "longitude", "x", "y", "speed_mps", "heading", "sos"]
    rows = [[p[key] for key in header] for p in _positions(db, period)]
    return Export(csv_text([header, *rows]).encode(), CSV, f"{period.tracker}.csv").response()


@router.get("/trackers/{tracker_id}/positions.gpx", summary="The same positions as a GPX 1.1 track")
def positions_gpx(db: Db, period: Asked = Depends(asked), _: str = Depends(READ)) -> Response:
    return Export(
        gpx(period.tracker, _positions(db, period)), "application/gpx+xml", f"{period.tracker}.gpx"
    ).response()


def gpx(name: str, found: list[dict[str, Any]]) -> bytes:
    """A GPX 1.1 document with one track of ``found`` positions."""
    root = ElementTree.Element("gpx", {"version": "1.1", "creator": "Tocsin", "xmlns": GPX_NAMESPACE})
    track = ElementTree.SubElement(root, "trk")
    ElementTree.SubElement(track, "name").text = name
    segment = ElementTree.SubElement(track, "trkseg")
    for p in found:
        point = ElementTree.SubElement(
            segment, "trkpt", {"lat": f"{p['latitude']:.7f}", "lon": f"{p['longitude']:.7f}"}
        )
        ElementTree.SubElement(point, "time").text = p["time"]
    return ElementTree.tostring(root, encoding="utf-8", xml_declaration=True)


def _positions(db: Session, period: Asked) -> list[dict[str, Any]]:
    query = (
        select(Position)
        .where(Position.tracker == period.tracker, Position.at >= period.start, Position.at < period.end)
        .order_by(Position.at)
        .limit(MAX_POSITIONS)
    )
    return [
        {
            "time": rfc3339(p.at),
            "latitude": p.latitude,
            "longitude": p.longitude,
            "x": p.x,
            "y": p.y,
            "speed_mps": p.speed,
            "heading": p.heading,
            "sos": p.sos,
        }
        for p in db.scalars(query)
    ]


@router.get("/alarms", summary="Alarms raised or changed since a moment, and every open one")
def alarms(
    request: Request,
    db: Db,
    since: str | None = Query(None, description="RFC 3339; default: 24 hours ago"),
    _: str = Depends(READ),
) -> list[dict[str, Any]]:
    start = (
        instant(since, field="since") if since is not None else shell_of(request).clock() - timedelta(days=1)
    )
    query = select(Alarm).where((Alarm.updated_at >= start) | Alarm.state.in_(store.OPEN))
    return [
        alarm_json(a) for a in db.scalars(query.order_by(Alarm.raised_at.desc(), Alarm.id.desc()).limit(1000))
    ]


@router.get("/masts", summary="Every mast's health: connected, last heard, link quality, frame counters")
def masts(request: Request, db: Db, _: str = Depends(READ)) -> list[dict[str, Any]]:
    now = shell_of(request).clock()
    return [_mast_json(row) for row in pages.mast_rows(db, pages.the_site(), now)]


def _mast_json(row: pages.MastRow) -> dict[str, Any]:
    stored = row.stored
    return {
        "gateway": row.gateway,
        "name": row.name,
        "health": row.health,  # working, silent, offline, unknown
        "online": None if stored is None else stored.online,
        "last_heard": None if stored is None else rfc3339(stored.last_heard),
        "rssi_dbm": None if stored is None else stored.last_rssi,
        "snr_db": None if stored is None else stored.last_snr,
        "rx_received": None if stored is None else stored.rx_received,
        "rx_ok": None if stored is None else stored.rx_ok,
    }


@router.get("/muster", summary="Who is in the pit now, and in each zone (people first)")
def muster_now(request: Request, db: Db, _: str = Depends(READ)) -> dict[str, Any]:
    roll = muster.muster(db, pages.the_site(), shell_of(request).clock())
    return {
        "at": rfc3339(roll.at),
        "people": roll.people,
        "vehicles": roll.vehicles,
        "present": [
            {
                "tracker": p.tracker.id,
                "label": p.label,
                "person": p.person,
                "last_fix": rfc3339(p.tracker.last_at),
            }
            | {"zones": list(p.zones)}
            for p in roll.present
        ],
        "zones": [
            {
                "zone": count.zone.name,
                "kind": count.zone.kind,
                "people": count.people,
                "vehicles": count.vehicles,
            }
            for count in roll.zones
        ],
    }


@router.get("/alarms.csv", summary="The same alarms as CSV")
def alarms_csv(
    request: Request, db: Db, since: str | None = Query(None), who: str = Depends(READ)
) -> Response:
    found = alarms(request, db, since, who)
    header = ["id", "site", "type", "level", "trackers", "state", "zone", "distance_m", "raised_at"]
    header += ["acknowledged_at", "acknowledged_by", "cleared_at"]
    rows = [[" ".join(a[k]) if k == "trackers" else a[k] for k in header] for a in found]
    return Export(csv_text([header, *rows]).encode(), CSV, "alarms.csv").response()


@router.post("/alarms/{alarm_id}/ack", summary="Acknowledge an alarm (who and when are kept and audited)")
def acknowledge(
    request: Request, db: Db, alarm_id: int = Path(ge=1, le=2**62), who: str = Depends(WRITE)
) -> dict[str, Any]:
    try:
        alarm = store.acknowledge(db, alarm_id, by=who, now=shell_of(request).clock())
    except DomainError as error:
        raise NotFound(error.reason, field="alarm_id") from None
    return alarm_json(alarm)


def checkout_json(checkout: Checkout) -> dict[str, Any]:
    return {
        "id": checkout.id,
        "tracker": checkout.tracker,
        "person": checkout.person,
        "shift": f"{checkout.shift_day.isoformat()}:{checkout.shift}",
        "out_at": rfc3339(checkout.out_at),
        "out_by": checkout.out_by,
        "in_at": rfc3339(checkout.in_at),
        "in_by": checkout.in_by,
        "battery_state_in": checkout.in_battery_state,
        "battery_percent_in": checkout.in_battery_percent,
        "note": checkout.note,
    }


class CheckOut(BaseModel):
    """A tracker handed out at the charging station."""

    model_config = ConfigDict(extra="forbid")

    tracker: str = Field(max_length=4000, description="the tracker's id, e.g. quarry:11")
    person: str = Field(max_length=4000, description="who takes it")
    note: str = Field("", max_length=4000)


class CheckIn(BaseModel):
    """A tracker taken back."""

    model_config = ConfigDict(extra="forbid")

    note: str = Field("", max_length=4000)


def _asked_shift(request: Request, shift: str | None) -> checkouts.Shift:
    if shift is None:
        return checkouts.shift_at(shell_of(request).clock())
    return checkouts.parse_shift(shift[:40], field="shift")


def _first_problem(error: DomainError) -> DomainError:
    return error.problems[0] if isinstance(error, Problems) else error


@router.get("/checkouts", summary="A shift's check-outs at the charging station, and those not returned")
def checkouts_of_shift(
    request: Request,
    db: Db,
    shift: str | None = Query(None, description="YYYY-MM-DD:day or YYYY-MM-DD:night; default: now"),
    _: str = Depends(READ),
) -> dict[str, Any]:
    asked = _asked_shift(request, shift)
    return {
        "shift": asked.key,
        "checkouts": [checkout_json(c) for c in checkouts.of_shift(db, asked)],
        "not_returned_before": [checkout_json(c) for c in checkouts.not_returned(db, asked)],
    }


@router.get("/checkouts.csv", summary="A shift's check-outs as CSV", name="minesafe_checkouts_csv")
def checkouts_csv(
    request: Request, db: Db, shift: str | None = Query(None), _: str = Depends(READ)
) -> Response:
    asked = _asked_shift(request, shift)
    header = ["id", "tracker", "person", "shift", "out_at", "out_by", "in_at", "in_by"]
    header += ["battery_state_in", "battery_percent_in", "note"]
    rows = [[found[key] for key in header] for found in map(checkout_json, checkouts.of_shift(db, asked))]
    name = f"checkouts-{asked.day.isoformat()}-{asked.name}.csv"
    return Export(csv_text([header, *rows]).encode(), CSV, name).response()


@router.post("/checkouts", summary="Hand a tracker out (refused while it is out already)", status_code=201)
def check_out(request: Request, db: Db, body: CheckOut, who: str = Depends(WRITE)) -> dict[str, Any]:
    try:
        done = checkouts.check_out(
            db,
            tracker=body.tracker,
            person=body.person,
            note=body.note,
            by=who,
            now=shell_of(request).clock(),
        )
    except Problems as error:
        raise _first_problem(error) from None
    return checkout_json(done)


@router.post("/checkouts/{checkout_id}/return", summary="Take a checked-out tracker back")
def check_in(
    request: Request,
    db: Db,
    body: CheckIn | None = None,
    checkout_id: int = Path(ge=1, le=2**31 - 1),
    who: str = Depends(WRITE),
) -> dict[str, Any]:
    note = body.note if body is not None else ""
    done = checkouts.return_checkout(
        db, checkout_id=checkout_id, by=who, now=shell_of(request).clock(), note=note
    )
    return checkout_json(done)


# --- hazard zones drawn by operators (``zones.py``; the page is ``zone_pages.py``) ---------------------


def _zone_site() -> Any:
    from tocsin.minesafe.pages import the_site  # the page module's site: one per deployment so far

    return the_site()


@router.get("/zones", summary="The site's drawn zones (not removed), with whether each is active now")
def zones_list(request: Request, db: Db, _: str = Depends(READ)) -> list[dict[str, Any]]:
    now = shell_of(request).clock()
    rows = zones.live_zones(db=db, site=_zone_site().name)
    return [zones.zone_json(row) | {"active": zones.is_active(row, now)} for row in rows]


@router.post("/zones", status_code=201, summary="Draw a zone (polygon in site metres; audited)")
async def zones_create(request: Request, db: Db, who: str = Depends(WRITE)) -> dict[str, Any]:
    site = _zone_site()
    data = zones.zone_from_json(zones.read_json_body(await request.body()), site.grid)
    row = await run_in_threadpool(
        zones.create_zone, db=db, site=site, data=data, actor=who, now=shell_of(request).clock()
    )
    return zones.zone_json(row)


@router.put("/zones/{zone_id}", summary="Change a drawn zone (audited)")
async def zones_update(
    request: Request, db: Db, zone_id: int = Path(ge=1, le=2**31 - 1), who: str = Depends(WRITE)
) -> dict[str, Any]:
    site = _zone_site()
    data = zones.zone_from_json(zones.read_json_body(await request.body()), site.grid)
    row = await run_in_threadpool(
        zones.update_zone,
        db=db,
        site=site,
        zone_id=zone_id,
        data=data,
        actor=who,
        now=shell_of(request).clock(),
    )
    return zones.zone_json(row)


@router.delete(
    "/zones/{zone_id}", status_code=204, summary="Remove a drawn zone (kept, marked removed; audited)"
)
def zones_remove(
    request: Request, db: Db, zone_id: int = Path(ge=1, le=2**31 - 1), who: str = Depends(WRITE)
) -> Response:
    zones.remove_zone(db=db, site=_zone_site(), zone_id=zone_id, actor=who, now=shell_of(request).clock())
    return Response(status_code=204)
