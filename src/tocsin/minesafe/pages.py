"""The dispatch room's live page (``/minesafe/``): the site map drawn from the site's own geometry in
site metres (grid, haul roads, hazard zones, masts, trackers by class, alarms ringed), the tracker list
(silent ones first), the alarm feed (open ones first) with acknowledgement for operators, and an SOS
banner. The page updates itself from the live topic ``minesafe`` (``core/static/live.js``)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from tocsin.core import auth, live
from tocsin.core.errors import DomainError
from tocsin.core.live.stream import live_stream
from tocsin.core.web import DB, check_csrf, path_to, require_staff, shell_of
from tocsin.core.web.inputs import BIGINT_KEY, names_a_row
from tocsin.minesafe import store, zones
from tocsin.minesafe.ingest.masts import SILENT_AFTER
from tocsin.minesafe.model import Kind
from tocsin.minesafe.models import Alarm, Mast, Tracker
from tocsin.minesafe.site import Site, load_configured_site
from tocsin.minesafe.words import ALARM_TYPES, LEVELS

router = APIRouter(prefix="/minesafe", include_in_schema=False)

READER_ROLES, OPERATOR_ROLES = ("operator", "viewer"), ("operator",)
READERS = require_staff(*READER_ROLES)
OPERATORS = require_staff(*OPERATOR_ROLES)
RECENT = timedelta(hours=24)  # closed alarms stay in the feed this long
FEED_SIZE = 100
LEVEL_ORDER = {"DANGER": 0, "WARNING": 1, "INFO": 2}

STATES = {store.RAISED: "new", store.ACKNOWLEDGED: "acknowledged", store.CLEARED: "cleared"}
KINDS = {
    Kind.PERSON.value: "Person",
    Kind.HAUL_TRUCK.value: "Haul truck",
    Kind.EXCAVATOR.value: "Excavator",
    Kind.BULLDOZER.value: "Bulldozer",
    Kind.LIGHT_VEHICLE.value: "Light vehicle",
    Kind.DRILL.value: "Drill rig",
    Kind.LOCO.value: "Locomotive",
}
ZONE_KINDS = {
    "blast": "Blast area",
    "pit_edge": "Pit edge",
    "unstable_slope": "Unstable slope",
    "swing": "Excavator swing",
    "speed": "Speed limit area",
}


@dataclass(frozen=True)
class SiteMap:
    """A site's geometry as SVG coordinates: x east, y flipped (SVG's y grows downwards)."""

    site: Site

    @property
    def width(self) -> float:
        return self.site.grid.width_m

    @property
    def height(self) -> float:
        return self.site.grid.height_m

    def point(self, x: float, y: float) -> tuple[float, float]:
        return round(x, 1), round(self.height - y, 1)

    def points(self, line: Iterable[tuple[float, float]]) -> str:
        return " ".join("{},{}".format(*self.point(x, y)) for x, y in line)

    def mast(self, x: float, y: float, size: float = 30.0) -> str:
        """A small triangle standing on the mast's position."""
        sx, sy = self.point(x, y)
        corners = [(sx, sy - size), (sx - size * 0.87, sy + size / 2), (sx + size * 0.87, sy + size / 2)]
        return " ".join(f"{a:.1f},{b:.1f}" for a, b in corners)


MAST_HEALTH = {
    "working": "working",
    "silent": "silent",
    "offline": "offline",
    "unknown": "no report yet",
}


@dataclass(frozen=True)
class MastRow:
    """A mast as the dispatch room shows it: its name (the site file's, else its EUI), what ingestion
    stored of it (None: nothing yet), its health and whether that is a problem."""

    name: str
    gateway: str
    stored: Mast | None
    health: str  # working, silent (not heard for SILENT_AFTER), offline (the bridge says so), unknown
    heard_ago: timedelta | None
    x: float | None = None
    y: float | None = None

    @property
    def problem(self) -> bool:
        return self.health != "working"

    @property
    def key(self) -> str:
        return self.gateway or self.name


def mast_rows(db: Session, site: Site, now: datetime) -> list[MastRow]:
    """The site's masts (those of its file, then any other gateway of the site ingestion heard),
    problems first."""
    from tocsin.minesafe.ingest.simulated import gateway_eui  # the demo's masts are named by their EUI

    stored = {row.gateway: row for row in db.scalars(select(Mast).where(Mast.site == site.name))}
    rows = []
    for mast in site.masts:
        gateway = gateway_eui(site, mast.id)
        rows.append(_mast_row(mast.name, gateway, stored.pop(gateway, None), now, mast.x, mast.y))
    rows += [_mast_row(gateway, gateway, row, now) for gateway, row in sorted(stored.items())]
    return sorted(rows, key=lambda row: not row.problem)  # stable: the site file's order within


def _mast_row(
    name: str, gateway: str, row: Mast | None, now: datetime, x: float | None = None, y: float | None = None
) -> MastRow:
    heard = None if row is None or row.last_heard is None else max(now - row.last_heard, timedelta(0))
    if row is None:
        health = "unknown"
    elif row.online is False:
        health = "offline"
    elif heard is None or heard > SILENT_AFTER:
        health = "silent"
    else:
        health = "working"
    return MastRow(name, gateway, row, health, heard, x, y)


@dataclass(frozen=True)
class TrackerRow:
    tracker: Tracker
    label: str
    short: str
    person: bool
    ring: str  # "danger", "warning" or ""
    seen_ago: timedelta | None
    arrow: tuple[float, float] | None = None  # the heading arrow's tip on the map, when moving
    label_at: tuple[float, float, str] = (0.0, 0.0, "start")  # x, y and text-anchor of its number


# Where a tracker's number may stand around its dot (dx, dy, text-anchor), tried in this order so that
# numbers of trackers a few metres apart do not print over each other.
LABEL_SPOTS = ((28.0, -22.0, "start"), (28.0, 52.0, "start"), (-28.0, -22.0, "end"), (-28.0, 52.0, "end"))
LABEL_HEIGHT, LABEL_CHAR = 48.0, 30.0  # the number's box in SVG units (site metres) at the map's font size


def place_labels(points: list[tuple[float, float, str]]) -> list[tuple[float, float, str]]:
    """For each (x, y, text) in SVG coordinates, where its text goes: the first spot around the dot whose
    box overlaps no text placed before it (the first spot when every one is taken)."""
    placed: list[tuple[float, float, float, float]] = []
    found = []
    for x, y, text in points:
        width = LABEL_CHAR * max(len(text), 1)
        choice = None
        for dx, dy, anchor in LABEL_SPOTS:
            left = x + dx if anchor == "start" else x + dx - width
            box = (left, y + dy - LABEL_HEIGHT, left + width, y + dy)
            if not any(_overlap(box, other) for other in placed):
                choice = (x + dx, y + dy, anchor, box)
                break
        if choice is None:
            dx, dy, anchor = LABEL_SPOTS[0]
            choice = (x + dx, y + dy, anchor, (x + dx, y + dy - LABEL_HEIGHT, x + dx + width, y + dy))
        placed.append(choice[3])
        found.append((round(choice[0], 1), round(choice[1], 1), choice[2]))
    return found


def _overlap(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


MOVING_MPS = 0.5  # slower than this, no heading arrow (GNSS drift turns a standing heading round)


def heading_tip(site_map: SiteMap, tracker: Tracker) -> tuple[float, float] | None:
    """Where a moving tracker's heading arrow ends, in SVG coordinates: longer the faster it goes."""
    if tracker.x is None or tracker.y is None or tracker.heading is None or (tracker.speed or 0) < MOVING_MPS:
        return None
    length = min(40.0 + 6.0 * (tracker.speed or 0), 140.0)
    angle = math.radians(tracker.heading)  # clockwise from grid north
    return site_map.point(tracker.x + length * math.sin(angle), tracker.y + length * math.cos(angle))


def moving_zones(site: Site, site_map: SiteMap, trackers: Iterable[Tracker]) -> list[tuple[Any, str]]:
    """Zones that move with a tracker (an excavator's swing radius) where that tracker was last seen."""
    where = {t.id: (t.x, t.y) for t in trackers if t.x is not None and t.y is not None}
    found = []
    for zone in site.zones:
        if zone.follows in where:
            x, y = where[zone.follows]
            found.append((zone, site_map.points((x + dx, y + dy) for dx, dy in zone.polygon)))
    return found


@cache
def the_site() -> Site:
    """The site the dispatch room draws: the deployment's (TOCSIN_MINESAFE_SITE), else the example quarry."""
    return load_configured_site()


def _labels(site: Site) -> dict[str, str]:
    return site.labels()


def _open_alarms_first(alarms: Sequence[Alarm]) -> list[Alarm]:
    def order(alarm: Alarm) -> tuple[int, int, int, float]:
        closed = alarm.state not in store.OPEN
        waiting = alarm.state != store.RAISED
        return (closed, waiting, LEVEL_ORDER.get(alarm.level, 3), -alarm.raised_at.timestamp())

    return sorted(alarms, key=order)


def _rings(alarms: Iterable[Alarm]) -> dict[str, str]:
    rings: dict[str, str] = {}
    for alarm in alarms:
        if alarm.state not in store.OPEN or alarm.level not in ("DANGER", "WARNING"):
            continue
        for tracker in alarm.trackers:
            if alarm.level == "DANGER" or rings.get(tracker) != "danger":
                rings[tracker] = alarm.level.lower()
    return rings


def dispatch_state(db: Session, site: Site, now: datetime) -> dict[str, Any]:
    """What the page shows: trackers (silent first), alarms (open first), SOS alarms open."""
    query = select(Alarm).where((Alarm.updated_at >= now - RECENT) | Alarm.state.in_(store.OPEN))
    alarms = _open_alarms_first(list(db.scalars(query.order_by(Alarm.raised_at.desc()).limit(FEED_SIZE))))
    rings, labels, site_map = _rings(alarms), _labels(site), SiteMap(site)
    rows = []
    for tracker in db.scalars(select(Tracker).order_by(Tracker.id)):
        label = tracker.label or labels.get(tracker.id, "")
        seen = None if tracker.last_at is None else max(now - tracker.last_at, timedelta(0))
        short = tracker.id.rsplit(":", 1)[-1]
        person = tracker.kind == Kind.PERSON.value
        ring, tip = rings.get(tracker.id, ""), heading_tip(site_map, tracker)
        rows.append(TrackerRow(tracker, label, short, person, ring, seen, tip))
    rows.sort(key=lambda r: (not r.tracker.silent, not r.tracker.sos, not r.ring, _natural(r.tracker.id)))
    rows = _with_labels(site_map, rows)
    sos = [a for a in alarms if a.type == "sos" and a.state in store.OPEN]
    names = {key: label for key, label in labels.items() if label} | {
        r.tracker.id: r.label for r in rows if r.label
    }
    masts = mast_rows(db, site, now)
    swings = moving_zones(site, site_map, (row.tracker for row in rows))
    return {
        "trackers": rows,
        "alarms": alarms,
        "sos": sos,
        "names": names,
        "rings": rings,
        "masts": masts,
        "swings": swings,
    }


def _with_labels(site_map: SiteMap, rows: list[TrackerRow]) -> list[TrackerRow]:
    """The rows with their numbers placed on the map (trackers with a position, in list order)."""
    drawn = [r for r in rows if r.tracker.x is not None and r.tracker.y is not None]
    spots = place_labels([(*site_map.point(r.tracker.x, r.tracker.y), r.short) for r in drawn])  # type: ignore[arg-type]
    where = {id(r): spot for r, spot in zip(drawn, spots, strict=True)}
    return [replace(r, label_at=where[id(r)]) if id(r) in where else r for r in rows]


def _natural(key: str) -> tuple[str, int]:
    head, _, tail = key.rpartition(":")
    return (head, int(tail)) if tail.isdigit() else (key, -1)


@router.get("/", response_class=HTMLResponse, name="minesafe_dispatch")
def minesafe_dispatch(
    request: Request,
    acknowledged: str = "",
    user: auth.StaffUser = Depends(READERS),
    db: Session = DB,
) -> Response:
    """The dispatch room: map, trackers, alarm feed; updates itself."""
    live_after = live.last_number(db)  # before the rows: a change after this reaches the page live
    shell = shell_of(request)
    now = shell.clock()
    site = the_site()
    can_acknowledge = bool(set(user.roles) & {"operator", "admin"})
    return shell.render(
        request,
        "minesafe/dispatch.html",
        site=site,
        map=SiteMap(site),
        now=now,
        live_after=live_after,
        can_acknowledge=can_acknowledge,
        acknowledged=acknowledged if acknowledged.isdigit() else "",
        ALARM_TYPES=ALARM_TYPES,
        LEVELS=LEVELS,
        STATES=STATES,
        KINDS=KINDS,
        ZONE_KINDS=ZONE_KINDS,
        MAST_HEALTH=MAST_HEALTH,
        silent_after=SILENT_AFTER,
        current="dispatch",
        **zones.map_extras(db=db, site=site.name, now=now),
        **dispatch_state(db, site, now),
    )


@router.get("/live", name="minesafe_live")
def minesafe_live(request: Request, user: auth.StaffUser = Depends(READERS)) -> Response:
    """Server-sent events for the dispatch room: alarms raised, changed, acknowledged."""
    return live_stream(request, topics=(store.TOPIC,), roles=READER_ROLES)


@router.post(
    "/alarms/{alarm_id}/acknowledge", name="minesafe_acknowledge", dependencies=[Depends(check_csrf)]
)
def minesafe_acknowledge(
    request: Request, alarm_id: int, user: auth.StaffUser = Depends(OPERATORS), db: Session = DB
) -> Response:
    """An operator takes an alarm in hand (who and when kept and audited); back to the dispatch room."""
    shell = shell_of(request)
    if not names_a_row(alarm_id, highest=BIGINT_KEY):
        raise HTTPException(404, shell.gettext(request, "No alarm has this number."))
    try:
        store.acknowledge(db, alarm_id, by=user.username, now=shell.clock())
    except DomainError:
        raise HTTPException(404, shell.gettext(request, "No alarm has this number.")) from None
    return RedirectResponse(path_to(request, "minesafe_dispatch", query={"acknowledged": alarm_id}), 303)
