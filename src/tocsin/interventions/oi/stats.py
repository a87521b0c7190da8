"""Statistics of the OI desk: interventions per local day, PM and DO, share with impacted customers,
median delay between the start of work (HD, Debut_Inter) and the receipt of M1.

One query for the interventions of the period and one for those with a counted impacted customer;
the rest is plain Python on those rows, so the figures are easy to check by hand. Days are marked
working or not by France's calendar (``core.calendar``), which also gives the average per working day.
"""

from __future__ import annotations

import statistics as pystats
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from fractions import Fraction
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from tocsin.core.calendar import Calendar, OutsideCalendar, calendar
from tocsin.interventions.models import Impact, ImpactReport, Intervention

COUNTRY = "fr"  # E-Intervention is the French fibre operators' protocol


@dataclass(frozen=True)
class Row:
    """What the statistics need of one intervention."""

    id: int
    pm: str
    code_do: str
    debut: datetime
    m1_at: datetime | None


@dataclass
class Stats:
    """Figures for interventions whose HD falls in [since, until] (local days, both included)."""

    since: date
    until: date
    total: int = 0
    per_day: list[tuple[date, int]] = field(default_factory=list)
    per_pm: list[tuple[str, int]] = field(default_factory=list)
    per_do: list[tuple[str, int]] = field(default_factory=list)
    with_impacts: int = 0
    median_delay: timedelta | None = None
    delay_per_do: list[tuple[str, timedelta, int]] = field(default_factory=list)
    closed: dict[date, str] = field(default_factory=dict)  # non-working days: holiday name or "weekend"
    working_days: int | None = None  # None when the calendar does not cover the whole period
    on_working_days: int = 0
    calendar_gap: str | None = None  # why the calendar could not mark the period

    @property
    def impacted_share(self) -> Fraction | None:
        """Share of interventions with at least one counted impacted customer (None when none)."""
        return Fraction(self.with_impacts, self.total) if self.total else None

    @property
    def per_working_day(self) -> Fraction | None:
        """Interventions started on working days, per working day of the period."""
        return Fraction(self.on_working_days, self.working_days) if self.working_days else None


def local_bounds(since: date, until: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """UTC instants bounding the local days ``since`` to ``until`` included."""
    start = datetime.combine(since, time.min, tzinfo=zone)
    end = datetime.combine(until + timedelta(days=1), time.min, tzinfo=zone)
    return start, end


def statistics(*, db: Session, since: date, until: date, zone: ZoneInfo) -> Stats:
    """Compute every figure of the statistics page for the local days ``since`` to ``until``."""
    start, end = local_bounds(since, until, zone)
    query = select(
        Intervention.id, Intervention.pm, Intervention.code_do, Intervention.debut, Intervention.m1_at
    ).where(Intervention.debut >= start, Intervention.debut < end)
    rows = [Row(*r) for r in db.execute(query)]
    impacted = _with_counted_impacts(db, [r.id for r in rows])
    return summarise(rows, impacted, since=since, until=until, zone=zone, days_off=calendar(COUNTRY))


def _with_counted_impacts(db: Session, ids: list[int]) -> set[int]:
    if not ids:
        return set()
    query = (
        select(ImpactReport.intervention_id)
        .join(Impact, Impact.report_id == ImpactReport.id)
        .where(ImpactReport.intervention_id.in_(ids), Impact.counted.is_(True))
        .distinct()
    )
    return set(db.scalars(query))


def summarise(
    rows: list[Row],
    impacted: set[int],
    *,
    since: date,
    until: date,
    zone: ZoneInfo,
    days_off: Calendar | None = None,
) -> Stats:
    """The figures from the rows alone (no I/O); ``days_off`` marks the non-working days."""
    days = Counter(r.debut.astimezone(zone).date() for r in rows)
    every_day = _days(since, until)
    closed: dict[date, str] = {}
    gap = None
    if days_off is not None:
        try:
            closed = {d: why for d in every_day if (why := days_off.why_not_working(d)) is not None}
        except OutsideCalendar as error:
            closed, gap = {}, error.reason
    delays: dict[str, list[timedelta]] = defaultdict(list)
    for row in rows:
        if row.m1_at is not None:
            delays[row.code_do].append(row.m1_at - row.debut)
    every_delay = [d for values in delays.values() for d in values]
    return Stats(
        since=since,
        until=until,
        total=len(rows),
        per_day=[(day, days.get(day, 0)) for day in every_day],
        per_pm=_ranked(Counter(r.pm for r in rows)),
        per_do=_ranked(Counter(r.code_do for r in rows)),
        with_impacts=sum(1 for r in rows if r.id in impacted),
        median_delay=_median(every_delay),
        delay_per_do=[(code, _median_of(v), len(v)) for code, v in sorted(delays.items())],
        closed=closed,
        working_days=None if days_off is None or gap else len(every_day) - len(closed),
        on_working_days=sum(n for day, n in days.items() if since <= day <= until and day not in closed),
        calendar_gap=gap,
    )


def _days(since: date, until: date) -> list[date]:
    """Every local day from ``since`` to ``until`` included, so quiet days show as 0."""
    return [since + timedelta(days=n) for n in range((until - since).days + 1)]


def _ranked(counts: Counter[str]) -> list[tuple[str, int]]:
    """Most frequent first, then by name."""
    return sorted(counts.items(), key=lambda item: (-item[1], item[0]))


def _median(values: list[timedelta]) -> timedelta | None:
    return _median_of(values) if values else None


def _median_of(values: list[timedelta]) -> timedelta:
    return timedelta(seconds=pystats.median(v.total_seconds() for v in values))
