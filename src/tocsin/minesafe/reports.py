"""The dispatch room's look back: the history playback (``/minesafe/playback``: the site map with a time
slider moving the trackers over a past period, the period's alarms beside it) and the reports
(``/minesafe/reports``: near misses with a heat map, speeding per vehicle, alarms per shift, silent
trackers, battery problems, each with a CSV export). Periods are typed in the desk's local time; a
report's default period is the current shift (08:00–20:00 and 20:00–08:00 local)."""

from __future__ import annotations

from bisect import bisect_right
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import BigInteger, Integer, case, cast, extract, func, literal, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from tocsin.core import auth
from tocsin.core.exports import Table, export
from tocsin.core.web import DB, shell_of
from tocsin.core.web.inputs import PERIOD_REVERSED, Inputs
from tocsin.minesafe import store, zones
from tocsin.minesafe.model import Kind
from tocsin.minesafe.models import Alarm, Position, Tracker
from tocsin.minesafe.pages import (
    ALARM_TYPES,
    KINDS,
    LEVEL_ORDER,
    LEVELS,
    READERS,
    STATES,
    ZONE_KINDS,
    SiteMap,
    _labels,
    the_site,
)

router = APIRouter(prefix="/minesafe", include_in_schema=False)

PLAYBACK_DEFAULT = timedelta(hours=1)
PLAYBACK_LONGEST = timedelta(hours=24)
REPORT_DEFAULT = timedelta(hours=12)  # a shift
REPORT_LONGEST = timedelta(days=31)
SHIFT_STARTS = (time(8), time(20))  # local: the day shift and the night shift
PLAYBACK_SAMPLES = 3600  # per tracker at most: one a second for an hour, one every 24 s for a day
MAX_PLAYBACK_POSITIONS = 150_000  # whatever the trackers, the page stays a few megabytes at most
MAX_PLAYBACK_ALARMS = 500
MAX_NEAR_MISSES = 2000
STALE_S = 60  # a marker whose last fix is older than this at the slider's time is drawn faded
CELL_M = 50.0  # heat map cells
HEAT_CLASSES = ((8, "8+"), (4, "4–7"), (2, "2–3"), (1, "1"))  # (lowest count, legend), darkest first
TOP_CELLS = 10
NEAR_MISS_TYPES = ("collision", "run_over")
SECTIONS = ("near_misses", "heat_map", "speeding", "shifts", "silent", "battery")
TOO_LONG = "The period is at most {n} hours long."
TOO_LONG_DAYS = "The period is at most {n} days long."


# --- periods -----------------------------------------------------------------------------------------


@dataclass
class Period:
    """The period a page shows, read from its ``from`` and ``until`` fields (local times), with the
    problems found; ``typed`` is what the form shows back."""

    start: datetime
    end: datetime
    inputs: Inputs
    typed: dict[str, str] = field(default_factory=dict)

    @property
    def errors(self) -> list[tuple[str, str]]:
        return self.inputs.errors

    @property
    def query(self) -> dict[str, str]:
        """The period as a link's query (the export links)."""
        return {"from": self.typed["from"], "until": self.typed["until"]}


def read_period(
    request: Request,
    typed_from: str,
    typed_until: str,
    *,
    default: Callable[[datetime, ZoneInfo], tuple[datetime, datetime]],
    length: timedelta,
    longest: timedelta,
) -> Period:
    """Both ends typed, or one (the other ``length`` away), or none (``default``); the end after the
    start and at most ``longest`` after it. A bad field is named; the default period stands in."""
    inputs = Inputs(request)
    now = shell_of(request).clock()
    start = inputs.moment("from", typed_from)
    end = inputs.moment("until", typed_until)
    fallback = default(now, inputs.zone)
    if start is None and end is None:
        start, end = fallback
    elif end is None:
        assert start is not None
        end = start + length
    elif start is None:
        start = end - length
    if not inputs.errors:
        if end <= start:
            inputs.fail("until", PERIOD_REVERSED)
        elif end - start > longest:
            if longest >= timedelta(days=2):
                inputs.fail("until", TOO_LONG_DAYS, n=longest.days)
            else:
                inputs.fail("until", TOO_LONG, n=int(longest.total_seconds() // 3600))
    if inputs.errors:
        typed = {"from": typed_from[:40], "until": typed_until[:40]}
        return Period(fallback[0], fallback[1], inputs, typed)
    fmt = lambda moment: moment.astimezone(inputs.zone).strftime("%Y-%m-%dT%H:%M")  # noqa: E731
    return Period(start, end, inputs, {"from": fmt(start), "until": fmt(end)})


def last_hour(now: datetime, zone: ZoneInfo) -> tuple[datetime, datetime]:
    return now - PLAYBACK_DEFAULT, now


def shift_start(moment: datetime, zone: ZoneInfo) -> datetime:
    """The start (UTC) of the shift ``moment`` falls in: 08:00 or 20:00 local, the latest not after it."""
    local = moment.astimezone(zone)
    starts = [
        datetime.combine(local.date() + timedelta(days=d), at, tzinfo=zone)
        for d in (-1, 0)
        for at in SHIFT_STARTS
    ]
    return max(s for s in starts if s <= local).astimezone(UTC)


def next_shift(start: datetime, zone: ZoneInfo) -> datetime:
    """The start of the shift after the one starting at ``start``."""
    local = start.astimezone(zone)
    if local.time() < SHIFT_STARTS[1]:
        following = datetime.combine(local.date(), SHIFT_STARTS[1], tzinfo=zone)
    else:
        following = datetime.combine(local.date() + timedelta(days=1), SHIFT_STARTS[0], tzinfo=zone)
    return following.astimezone(UTC)


def current_shift(now: datetime, zone: ZoneInfo) -> tuple[datetime, datetime]:
    start = shift_start(now, zone)
    return start, next_shift(start, zone)


def shifts_in(start: datetime, end: datetime, zone: ZoneInfo) -> list[tuple[datetime, datetime]]:
    """The shifts that overlap ``[start, end)``, each as (its start, its end)."""
    found, at = [], shift_start(start, zone)
    while at < end:
        following = next_shift(at, zone)
        found.append((at, following))
        at = following
    return found


# --- shared helpers ----------------------------------------------------------------------------------


def epoch(db: Session, column: Any) -> ColumnElement[int]:
    """Whole Unix seconds of a timestamp column, in SQL (SQLite keeps text, PostgreSQL timestamptz)."""
    if db.get_bind().dialect.name == "sqlite":
        return cast(func.strftime("%s", column), Integer)
    return cast(func.floor(extract("epoch", column)), BigInteger)


def tracker_names(db: Session) -> dict[str, str]:
    """Each tracker's label: the registry's, else the site definition's."""
    names = _labels(the_site())
    for key, label in db.execute(select(Tracker.id, Tracker.label)):
        if label:
            names[key] = label
    return {key: label for key, label in names.items() if label}


def _in(period: Period) -> Any:
    return (Alarm.raised_at >= period.start) & (Alarm.raised_at < period.end)


# --- history playback --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Marker:
    key: str
    dom: str
    label: str
    short: str
    person: bool
    kind: str
    track: list[tuple[int, float, float]]  # (seconds from the period's start, svg x, svg y), oldest first

    def at(self, offset: int) -> tuple[float, float, int] | None:
        """Where the marker stands ``offset`` seconds into the period (its last fix then, and its age)."""
        index = bisect_right([t for t, _, _ in self.track], offset) - 1
        if index < 0:
            return None
        t, x, y = self.track[index]
        return x, y, offset - t

    def json(self) -> dict[str, Any]:
        return {"dom": self.dom, "track": self.track}


def playback_markers(db: Session, period: Period, svg: SiteMap) -> tuple[list[Marker], int, bool]:
    """Every tracker's sampled track over the period (at most one fix per ``step`` seconds, the first of
    each step, chosen in SQL), starting with its last fix before the period; the step; whether the
    positions were cut at ``MAX_PLAYBACK_POSITIONS``."""
    seconds = int((period.end - period.start).total_seconds())
    step = max(1, -(-seconds // PLAYBACK_SAMPLES))
    base = int(period.start.timestamp())
    bucket = epoch(db, Position.at) / step if step > 1 else epoch(db, Position.at)
    rank = func.row_number().over(
        partition_by=(Position.tracker, bucket), order_by=(Position.at, Position.id)
    )
    ranked = (
        select(Position.tracker, Position.at, Position.x, Position.y, rank.label("n"))
        .where(Position.at >= period.start, Position.at < period.end)
        .subquery()
    )
    rows = db.execute(
        select(ranked.c.tracker, ranked.c.at, ranked.c.x, ranked.c.y)
        .where(ranked.c.n == 1)
        .order_by(ranked.c.tracker, ranked.c.at)
        .limit(MAX_PLAYBACK_POSITIONS + 1)
    ).all()
    cut = len(rows) > MAX_PLAYBACK_POSITIONS
    tracks: dict[str, list[tuple[int, float, float]]] = {}
    names, markers = tracker_names(db), []
    for tracker in db.scalars(select(Tracker).order_by(Tracker.id)):
        before = db.execute(
            select(Position.at, Position.x, Position.y)
            .where(Position.tracker == tracker.id, Position.at < period.start)
            .order_by(Position.at.desc())
            .limit(1)
        ).first()
        if before is not None:
            tracks[tracker.id] = [(int(before.at.timestamp()) - base, *svg.point(before.x, before.y))]
    for row in rows[:MAX_PLAYBACK_POSITIONS]:
        tracks.setdefault(row.tracker, []).append((int(row.at.timestamp()) - base, *svg.point(row.x, row.y)))
    kinds = dict(db.execute(select(Tracker.id, Tracker.kind)).all())
    for key in sorted(tracks, key=_natural):
        kind = kinds.get(key, "")
        short = key.rsplit(":", 1)[-1]
        dom = "pb-" + key.replace(":", "-")
        person = kind == Kind.PERSON.value
        markers.append(Marker(key, dom, names.get(key, ""), short, person, kind, tracks[key]))
    return markers, step, cut


def _natural(key: str) -> tuple[str, int]:
    head, _, tail = key.rpartition(":")
    return (head, int(tail)) if tail.isdigit() else (key, -1)


@dataclass(frozen=True)
class PlaybackAlarm:
    alarm: Alarm
    since: int  # seconds from the period's start
    until: int | None  # cleared, seconds from the period's start

    def active(self, offset: int) -> bool:
        return self.since <= offset and (self.until is None or offset < self.until)


def playback_alarms(db: Session, period: Period) -> list[PlaybackAlarm]:
    """Alarms open at some moment of the period, oldest first."""
    overlapping = (Alarm.raised_at < period.end) & (
        Alarm.cleared_at.is_(None) | (Alarm.cleared_at > period.start)
    )
    query = select(Alarm).where(overlapping).order_by(Alarm.raised_at, Alarm.id).limit(MAX_PLAYBACK_ALARMS)
    base = int(period.start.timestamp())
    found = []
    for alarm in db.scalars(query):
        until = None if alarm.cleared_at is None else int(alarm.cleared_at.timestamp()) - base
        found.append(PlaybackAlarm(alarm, int(alarm.raised_at.timestamp()) - base, until))
    return found


@router.get("/playback", response_class=HTMLResponse, name="minesafe_playback")
def minesafe_playback(
    request: Request,
    typed_from: str = Query("", alias="from"),
    until: str = "",
    user: auth.StaffUser = Depends(READERS),
    db: Session = DB,
) -> Response:
    """The site map over a past period (an hour by default, a day at most) with a time slider."""
    period = read_period(
        request, typed_from, until, default=last_hour, length=PLAYBACK_DEFAULT, longest=PLAYBACK_LONGEST
    )
    site = the_site()
    svg = SiteMap(site)
    markers: list[Marker] = []
    alarms: list[PlaybackAlarm] = []
    step, cut = 1, False
    if not period.errors:
        markers, step, cut = playback_markers(db, period, svg)
        alarms = playback_alarms(db, period)
    data = {
        "start": int(period.start.timestamp()),
        "length": int((period.end - period.start).total_seconds()),
        "step": step,
        "stale": STALE_S,
        "zone": period.inputs.zone.key,
        "markers": [m.json() for m in markers],
    }
    return shell_of(request).render(
        request,
        "minesafe/playback.html",
        status_code=400 if period.errors else 200,
        errors=period.errors,
        period=period,
        site=site,
        map=svg,
        markers=markers,
        alarms=alarms,
        names=tracker_names(db),
        data=data,
        cut=cut,
        stale=STALE_S,
        ALARM_TYPES=ALARM_TYPES,
        LEVELS=LEVELS,
        STATES=STATES,
        KINDS=KINDS,
        ZONE_KINDS=ZONE_KINDS,
        current="playback",
        **zones.map_extras(db=db, site=site.name, now=shell_of(request).clock()),
    )


# --- reports -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NearMiss:
    alarm: Alarm
    x: float | None  # where the first tracker stood at raised_at (its nearest fix), site metres
    y: float | None

    @property
    def cpa(self) -> float | None:
        value = self.alarm.detail.get("cpa") if isinstance(self.alarm.detail, dict) else None
        return float(value) if isinstance(value, int | float) else None


def near_misses(db: Session, period: Period) -> list[NearMiss]:
    """Collision and run-over alarms at DANGER raised in the period, each placed where its first tracker
    stood (the fix nearest in time to the raise)."""
    query = (
        select(Alarm)
        .where(Alarm.type.in_(NEAR_MISS_TYPES), Alarm.level == "DANGER", _in(period))
        .order_by(Alarm.raised_at, Alarm.id)
        .limit(MAX_NEAR_MISSES)
    )
    found = []
    for alarm in db.scalars(query):
        place = _nearest_fix(db, alarm.trackers[0], alarm.raised_at) if alarm.trackers else None
        found.append(NearMiss(alarm, *(place or (None, None))))
    return found


def _nearest_fix(db: Session, tracker: str, at: datetime) -> tuple[float, float] | None:
    columns = (Position.at, Position.x, Position.y)
    mine = Position.tracker == tracker
    before = db.execute(select(*columns).where(mine, Position.at <= at).order_by(Position.at.desc()).limit(1))
    after = db.execute(select(*columns).where(mine, Position.at >= at).order_by(Position.at).limit(1))
    fixes = [row for row in (before.first(), after.first()) if row is not None]
    if not fixes:
        return None
    best = min(fixes, key=lambda row: abs((row.at - at).total_seconds()))
    return best.x, best.y


@dataclass(frozen=True)
class Cell:
    i: int
    j: int
    count: int
    level: int  # 1 (lightest) to 4 (darkest)

    @property
    def x0(self) -> float:
        return self.i * CELL_M

    @property
    def y0(self) -> float:
        return self.j * CELL_M


def heat_cells(found: Sequence[NearMiss], svg: SiteMap) -> list[Cell]:
    """Near misses counted per ``CELL_M`` cell of the site grid, most first."""
    last_i, last_j = int(svg.width // CELL_M), int(svg.height // CELL_M)
    counts = Counter(
        (min(max(int(n.x // CELL_M), 0), last_i), min(max(int(n.y // CELL_M), 0), last_j))
        for n in found
        if n.x is not None and n.y is not None
    )
    cells = [Cell(i, j, count, heat_level(count)) for (i, j), count in counts.items()]
    return sorted(cells, key=lambda c: (-c.count, c.j, c.i))


def heat_level(count: int) -> int:
    for index, (lowest, _) in enumerate(HEAT_CLASSES):
        if count >= lowest:
            return len(HEAT_CLASSES) - index
    return 0


@dataclass(frozen=True)
class PerTracker:
    """A type of alarm counted for one tracker over the period."""

    tracker: str
    label: str
    alarms: int
    still_open: int
    seconds: int  # raised → cleared, the open ones up to the period's end (or now)
    danger: int
    battery_percent: float | None = None

    @property
    def duration(self) -> timedelta:
        return timedelta(seconds=self.seconds)


def per_tracker(db: Session, period: Period, kind: str, now: datetime) -> list[PerTracker]:
    """Alarms of ``kind`` (one tracker each) raised in the period, grouped by tracker in SQL: how many,
    how many still open, how long in all, how many at DANGER; most alarms first."""
    raised, cleared = epoch(db, Alarm.raised_at), epoch(db, Alarm.cleared_at)
    stop = int(min(period.end, now).timestamp())
    seconds = func.sum(case((Alarm.cleared_at.is_not(None), cleared - raised), else_=literal(stop) - raised))
    still_open = func.sum(case((Alarm.state.in_(store.OPEN), 1), else_=0))
    danger = func.sum(case((Alarm.level == "DANGER", 1), else_=0))
    query = (
        select(Alarm.trackers, func.count(Alarm.id), still_open, seconds, danger)
        .where(Alarm.type == kind, _in(period))
        .group_by(Alarm.trackers)
    )
    names = tracker_names(db)
    rows = []
    for trackers, count, opened, total, dangers in db.execute(query):
        key = " ".join(trackers)
        rows.append(
            PerTracker(key, names.get(key, ""), count, opened or 0, max(int(total or 0), 0), dangers or 0)
        )
    return sorted(rows, key=lambda r: (-r.alarms, -r.seconds, _natural(r.tracker)))


def battery_rows(db: Session, period: Period, now: datetime) -> list[PerTracker]:
    """Low-battery alarms per tracker, with each tracker's last known battery percent."""
    rows = per_tracker(db, period, "low_battery", now)
    percents = dict(db.execute(select(Tracker.id, Tracker.battery_percent)).all())
    return [
        PerTracker(r.tracker, r.label, r.alarms, r.still_open, r.seconds, r.danger, percents.get(r.tracker))
        for r in rows
    ]


@dataclass(frozen=True)
class ShiftRow:
    start: datetime
    end: datetime
    counts: dict[tuple[str, str], int]  # (type, level) → alarms raised in the shift (within the period)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def types(self) -> list[tuple[str, dict[str, int]]]:
        """(type, level → count), types in the dispatch room's order."""
        found: dict[str, dict[str, int]] = {}
        for (kind, level), count in self.counts.items():
            found.setdefault(kind, {})[level] = count
        order = list(ALARM_TYPES)
        return sorted(
            found.items(), key=lambda item: (order.index(item[0]) if item[0] in order else 99, item[0])
        )


def per_shift(db: Session, period: Period) -> list[ShiftRow]:
    """Alarms raised in the period counted per shift, type and level (GROUP BY in SQL; the shift of an
    alarm found with a CASE over the shifts' starts, exact across clock changes)."""
    zone = period.inputs.zone
    shifts = shifts_in(period.start, period.end, zone)
    whens = [(Alarm.raised_at < end, index) for index, (_, end) in enumerate(shifts[:-1])]
    shift = case(*whens, else_=len(shifts) - 1) if whens else literal(0)
    query = (
        select(shift.label("shift"), Alarm.type, Alarm.level, func.count(Alarm.id))
        .where(_in(period))
        .group_by(shift, Alarm.type, Alarm.level)
    )
    counts: dict[int, dict[tuple[str, str], int]] = {}
    for index, kind, level, count in db.execute(query):
        counts.setdefault(int(index), {})[(kind, level)] = count
    return [ShiftRow(start, end, counts.get(index, {})) for index, (start, end) in enumerate(shifts)]


@dataclass
class Report:
    near: list[NearMiss]
    cells: list[Cell]
    speeding: list[PerTracker]
    shifts: list[ShiftRow]
    silent: list[PerTracker]
    battery: list[PerTracker]


def build_report(db: Session, period: Period, svg: SiteMap, now: datetime) -> Report:
    near = near_misses(db, period)
    return Report(
        near=near,
        cells=heat_cells(near, svg),
        speeding=per_tracker(db, period, "overspeed", now),
        shifts=per_shift(db, period),
        silent=per_tracker(db, period, "silent", now),
        battery=battery_rows(db, period, now),
    )


def report_period(request: Request, typed_from: str, until: str) -> Period:
    return read_period(
        request, typed_from, until, default=current_shift, length=REPORT_DEFAULT, longest=REPORT_LONGEST
    )


@router.get("/reports", response_class=HTMLResponse, name="minesafe_reports")
def minesafe_reports(
    request: Request,
    typed_from: str = Query("", alias="from"),
    until: str = "",
    user: auth.StaffUser = Depends(READERS),
    db: Session = DB,
) -> Response:
    """Near misses (with a heat map), speeding, alarms per shift, silent trackers, battery problems."""
    shell = shell_of(request)
    period = report_period(request, typed_from, until)
    site = the_site()
    svg = SiteMap(site)
    report = None if period.errors else build_report(db, period, svg, shell.clock())
    return shell.render(
        request,
        "minesafe/reports.html",
        status_code=400 if period.errors else 200,
        errors=period.errors,
        period=period,
        report=report,
        site=site,
        map=svg,
        names=tracker_names(db),
        cell_m=int(CELL_M),
        top_cells=TOP_CELLS,
        heat_classes=HEAT_CLASSES,
        shift_starts=SHIFT_STARTS,
        ALARM_TYPES=ALARM_TYPES,
        LEVELS=LEVELS,
        LEVEL_ORDER=LEVEL_ORDER,
        ZONE_KINDS=ZONE_KINDS,
        current="reports",
        **zones.map_extras(db=db, site=site.name, now=shell.clock()),
    )


@router.get("/reports/{section}.csv", name="minesafe_report_csv")
def minesafe_report_csv(
    request: Request,
    section: str,
    typed_from: str = Query("", alias="from"),
    until: str = "",
    user: auth.StaffUser = Depends(READERS),
    db: Session = DB,
) -> Response:
    """One section of the reports as CSV (times local to the desk, without their zone)."""
    shell = shell_of(request)
    if section not in SECTIONS:
        raise HTTPException(404, shell.gettext(request, "No such report."))
    period = report_period(request, typed_from, until)
    if period.errors:
        raise HTTPException(400, "; ".join(f"{name}: {message}" for name, message in period.errors))
    header, rows = _csv_section(db, section, period, SiteMap(the_site()), shell.clock())
    stamp = period.start.astimezone(period.inputs.zone).strftime("%Y%m%d-%H%M")
    table = Table(section, header, rows, zone=period.inputs.zone)
    return export(table, kind="csv", name=f"minesafe-{section}-{stamp}").response()


def _csv_section(
    db: Session, section: str, period: Period, svg: SiteMap, now: datetime
) -> tuple[list[str], list[list[Any]]]:
    names = tracker_names(db)
    if section in ("near_misses", "heat_map"):
        near = near_misses(db, period)
        if section == "heat_map":
            header = ["x_from_m", "x_to_m", "y_from_m", "y_to_m", "near_misses"]
            cells = heat_cells(near, svg)
            return header, [[c.x0, c.x0 + CELL_M, c.y0, c.y0 + CELL_M, c.count] for c in cells]
        header = [
            "raised_at",
            "type",
            "trackers",
            "labels",
            "distance_m",
            "cpa_m",
            "acknowledged_by",
            "x_m",
            "y_m",
        ]
        return header, [
            [
                n.alarm.raised_at,
                n.alarm.type,
                " ".join(n.alarm.trackers),
                "; ".join(names.get(t, t) for t in n.alarm.trackers),
                n.alarm.distance,
                n.cpa,
                n.alarm.acknowledged_by,
                None if n.x is None else round(n.x, 1),
                None if n.y is None else round(n.y, 1),
            ]
            for n in near
        ]
    if section == "shifts":
        rows = [
            [s.start, s.end, kind, level, count]
            for s in per_shift(db, period)
            for kind, levels in s.types()
            for level, count in sorted(levels.items(), key=lambda item: LEVEL_ORDER.get(item[0], 3))
        ]
        return ["shift_start", "shift_end", "type", "level", "alarms"], rows
    if section == "battery":
        header = ["tracker", "label", "alarms", "danger_alarms", "still_open", "battery_percent"]
        found = battery_rows(db, period, now)
        return header, [
            [r.tracker, r.label, r.alarms, r.danger, r.still_open, r.battery_percent] for r in found
        ]
    kind = "overspeed" if section == "speeding" else "silent"
    header = ["tracker", "label", "alarms", "still_open", "total_seconds"]
    found = per_tracker(db, period, kind, now)
    return header, [[r.tracker, r.label, r.alarms, r.still_open, r.seconds] for r in found]
