"""Who is in the pit now (``/minesafe/muster``), for an evacuation roll-call: people first, then vehicles,
in the whole pit and in each hazard zone, printable and as CSV; and the gatehouse's wall console
(``/minesafe/gatehouse``): SOS, open alarms and the muster counts, read-only for everyone.

"In the pit" is a tracker whose last fix lies on the site grid and is less than ``IN_PIT_FOR`` old; in a
zone is that fix inside the zone's polygon (site metres). A swing zone moves with its excavator and is
not counted (its polygon is where the excavator was when the site file was written)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from shapely import Point, Polygon
from shapely.prepared import PreparedGeometry, prep
from sqlalchemy import select
from sqlalchemy.orm import Session

from tocsin.core import auth, live
from tocsin.core.exports import Export, csv_text
from tocsin.core.web import DB, shell_of
from tocsin.minesafe import checkouts, store
from tocsin.minesafe.model import Kind, Zone
from tocsin.minesafe.models import Tracker
from tocsin.minesafe.pages import (
    ALARM_TYPES,
    KINDS,
    LEVELS,
    READERS,
    STATES,
    ZONE_KINDS,
    dispatch_state,
    the_site,
)
from tocsin.minesafe.site import Site

router = APIRouter(prefix="/minesafe", include_in_schema=False)

IN_PIT_FOR = timedelta(minutes=10)  # a last fix older than this: the tracker is not counted in the pit
CSV = "text/csv; charset=utf-8"


@dataclass(frozen=True)
class Present:
    """A tracker counted in the pit: who or what, its last fix and the zones it lies in."""

    tracker: Tracker
    label: str
    person: bool
    ago: timedelta
    zones: tuple[str, ...]

    @property
    def anchor(self) -> str:
        return self.tracker.id.replace(":", "-")


@dataclass
class ZoneCount:
    """Who is inside one zone (people first)."""

    zone: Zone
    present: list[Present] = field(default_factory=list)

    @property
    def people(self) -> int:
        return sum(1 for p in self.present if p.person)

    @property
    def vehicles(self) -> int:
        return len(self.present) - self.people

    @property
    def anchor(self) -> str:
        return "zone-" + "".join(c if c.isalnum() else "-" for c in self.zone.name.lower())


@dataclass
class Muster:
    """The roll-call: everyone in the pit (people first, then vehicles), and per counted zone."""

    at: datetime
    present: list[Present]
    zones: list[ZoneCount]

    @property
    def people(self) -> int:
        return sum(1 for p in self.present if p.person)

    @property
    def vehicles(self) -> int:
        return len(self.present) - self.people


_SHAPES: dict[int, tuple[Site, tuple[tuple[Zone, PreparedGeometry], ...]]] = {}


def _shapes(site: Site) -> tuple[tuple[Zone, PreparedGeometry], ...]:
    """The zones counted (not the moving swing zones), as prepared polygons, made once per site (a
    ``Site`` holds dictionaries, so it cannot be a cache key itself)."""
    known = _SHAPES.get(id(site))
    if known is None or known[0] is not site:
        shapes = tuple((zone, prep(Polygon(zone.polygon))) for zone in site.zones if not zone.follows)
        known = _SHAPES[id(site)] = (site, shapes)
    return known[1]


def muster(db: Session, site: Site, now: datetime) -> Muster:
    """Who is in ``site``'s pit at ``now``, and in each of its zones."""
    labels = {site.tracker_key(number): info.label for number, info in site.trackers.items()}
    shapes = _shapes(site)
    since = now - IN_PIT_FOR
    query = select(Tracker).where(Tracker.site == site.name, Tracker.last_at >= since)
    present = []
    for tracker in db.scalars(query):
        if tracker.x is None or tracker.y is None or tracker.last_at is None:
            continue
        if tracker.last_at > now or not site.grid.contains(tracker.x, tracker.y):
            continue  # dated after now (a clock gone wrong) or off the grid: not reliably in the pit
        spot = Point(tracker.x, tracker.y)
        inside = tuple(zone.name for zone, shape in shapes if shape.covers(spot))
        label = tracker.label or labels.get(tracker.id, "")
        person = tracker.kind == Kind.PERSON.value
        present.append(Present(tracker, label, person, now - tracker.last_at, inside))
    present.sort(key=lambda p: (not p.person, p.label or p.tracker.id, p.tracker.id))
    zones = [ZoneCount(zone, [p for p in present if zone.name in p.zones]) for zone, _ in shapes]
    return Muster(now, present, zones)


def _context(request: Request, db: Session) -> dict[str, Any]:
    shell = shell_of(request)
    now = shell.clock()
    site = the_site()
    return {
        "site": site,
        "now": now,
        "muster": muster(db, site, now),
        "in_pit_minutes": int(IN_PIT_FOR.total_seconds() // 60),
        "KINDS": KINDS,
        "ZONE_KINDS": ZONE_KINDS,
    }


@router.get("/muster", response_class=HTMLResponse, name="minesafe_muster")
def minesafe_muster(request: Request, user: auth.StaffUser = Depends(READERS), db: Session = DB) -> Response:
    """Who is in the pit now, and in each zone; updates itself."""
    live_after = live.last_number(db)
    return shell_of(request).render(
        request, "minesafe/muster.html", live_after=live_after, current="muster", **_context(request, db)
    )


@router.get("/muster.csv", name="minesafe_muster_csv")
def minesafe_muster_csv(
    request: Request, user: auth.StaffUser = Depends(READERS), db: Session = DB
) -> Response:
    """The roll-call as CSV: one line per tracker in the pit, people first, in the reader's language."""
    shell = shell_of(request)
    now = shell.clock()
    found = muster(db, the_site(), now)

    def _(text: str) -> str:
        return shell.gettext(request, text)

    header = [_("Class"), _("Tracker"), _("Name"), _("Type"), _("Zones"), _("Last fix (UTC)")]
    header.append(_("Seconds ago"))
    rows = [
        [
            _("Person") if p.person else _("Vehicle"),
            p.tracker.id,
            p.label,
            _(KINDS.get(p.tracker.kind, p.tracker.kind)),
            "; ".join(p.zones),
            p.tracker.last_at.isoformat() if p.tracker.last_at else "",
            int(p.ago.total_seconds()),
        ]
        for p in found.present
    ]
    name = f"muster-{now:%Y%m%d-%H%M}.csv"
    return Export(csv_text([header, *rows]).encode(), CSV, name).response()


@router.get("/gatehouse", response_class=HTMLResponse, name="minesafe_gatehouse")
def minesafe_gatehouse(
    request: Request,
    out: str = "",
    back: str = "",
    user: auth.StaffUser = Depends(READERS),
    db: Session = DB,
) -> Response:
    """The gatehouse's wall console: SOS, open alarms, who is in the pit, read-only and updating itself;
    and the charging station's check-outs (operators hand trackers out and take them back)."""
    done = {"out": int(out) if out.isdigit() else None, "back": int(back) if back.isdigit() else None}
    return gatehouse_page(request, db, user, done=done)


def gatehouse_page(
    request: Request, db: Session, user: auth.StaffUser, *, status_code: int = 200, **extra: Any
) -> Response:
    """The gatehouse page (also shown again by the check-out forms with their errors, ``checkouts.py``)."""
    live_after = live.last_number(db)
    context = _context(request, db)
    state = dispatch_state(db, context["site"], context["now"])
    open_alarms = [alarm for alarm in state["alarms"] if alarm.state in store.OPEN]
    return shell_of(request).render(
        request,
        "minesafe/gatehouse.html",
        status_code=status_code,
        live_after=live_after,
        current="gatehouse",
        sos=state["sos"],
        alarms=open_alarms,
        names=state["names"],
        ALARM_TYPES=ALARM_TYPES,
        LEVELS=LEVELS,
        STATES=STATES,
        can_hand_out=bool(set(user.roles) & {"operator", "admin"}),
        **(checkouts.gatehouse_part(db, context["now"]) | context | extra),
    )
