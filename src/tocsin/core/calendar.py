"""Working-day calendars per country, read from data (``core/calendars/<country>.yaml``): weekends,
public holidays, days off and working Saturdays moved by decree, each year with its source.

A day outside the years the data covers (or past a year's ``known_through``, or in a year whose
decree is still ``pending``) is refused with ``OutsideCalendar``, naming the year: a deadline
computed on a guess is worse than none.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from tocsin.core.errors import DomainError

FOLDER = Path(__file__).parent / "calendars"
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


class OutsideCalendar(DomainError):
    """A day the calendar's data does not cover."""


@dataclass(frozen=True)
class Year:
    """One year of a country's data: where it comes from and how far it is known."""

    year: int
    source: str
    known_through: date


class Calendar:
    """One country's working days over the years its data covers."""

    def __init__(self, country: str, data: dict[str, Any]) -> None:
        self.country, self.name = country, str(data.get("name", country))
        self.weekend = frozenset(WEEKDAYS.index(day) for day in data["weekend"])
        self.years: dict[int, Year] = {}
        self.pending: dict[int, str] = {}
        self.holidays: dict[date, str] = {}
        self.days_off: dict[date, str] = {}
        self.working_days: dict[date, str] = {}
        for year, entry in sorted(data["years"].items()):
            if "pending" in entry:
                self.pending[int(year)] = " ".join(str(entry["pending"]).split())
                continue
            known = entry.get("known_through") or date(int(year), 12, 31)
            self.years[int(year)] = Year(int(year), " ".join(str(entry["source"]).split()), known)
            self.holidays.update(entry.get("holidays") or {})
            self.days_off.update(entry.get("days_off") or {})
            self.working_days.update(entry.get("working_days") or {})
        self.first = date(min(self.years), 1, 1)
        self.last = self.years[max(self.years)].known_through
        self._working = [d.toordinal() for d in _days(self.first, self.last) if self._works(d)]

    def _works(self, day: date) -> bool:
        if day in self.working_days:
            return True
        return day.weekday() not in self.weekend and day not in self.holidays and day not in self.days_off

    def check(self, day: date) -> None:
        """Refuse a day the data does not cover, naming its year and why."""
        year = self.years.get(day.year)
        if year is not None and day <= year.known_through:
            return
        if day.year in self.pending:
            reason = f"{day.year} is not in the {self.country} calendar: {self.pending[day.year]}"
        elif year is not None:
            reason = (
                f"{day.isoformat()} is past what the {self.country} calendar knows of {day.year} "
                f"(up to {year.known_through.isoformat()})"
            )
        else:
            reason = (
                f"{day.year} is not in the {self.country} calendar "
                f"(it covers {self.first.isoformat()} to {self.last.isoformat()})"
            )
        raise OutsideCalendar(reason, field="day")

    def is_working_day(self, day: date) -> bool:
        """Whether ``day`` is worked (not a weekend day, holiday or day off, or a working Saturday)."""
        self.check(day)
        return self._works(day)

    def why_not_working(self, day: date) -> str | None:
        """The holiday's or transfer's name, "weekend", or None for a working day."""
        self.check(day)
        if self._works(day):
            return None
        return self.holidays.get(day) or self.days_off.get(day) or "weekend"

    def add_working_days(self, day: date, count: int) -> date:
        """The ``count``-th working day after ``day`` (before it when negative); ``day`` itself for 0."""
        self.check(day)
        if count == 0:
            return day
        ordinal = day.toordinal()
        if count > 0:
            index = bisect.bisect_right(self._working, ordinal) + count - 1
        else:
            index = bisect.bisect_left(self._working, ordinal) + count
        if not 0 <= index < len(self._working):
            beyond = self.last + timedelta(days=1) if count > 0 else self.first - timedelta(days=1)
            self.check(beyond)
        return date.fromordinal(self._working[index])

    def next_working_day(self, day: date) -> date:
        """The first working day after ``day``."""
        return self.add_working_days(day, 1)

    def deadline(self, day: date) -> date:
        """When a deadline falling on ``day`` ends: that day if worked, else the next working day."""
        return day if self.is_working_day(day) else self.next_working_day(day)

    def working_days_between(self, start: date, end: date) -> int:
        """Working days after ``start`` up to and including ``end`` (negative when ``end`` is before)."""
        self.check(start)
        self.check(end)
        count = bisect.bisect_right(self._working, end.toordinal())
        return count - bisect.bisect_right(self._working, start.toordinal())


def _days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def countries() -> list[str]:
    """The countries with a calendar file."""
    return sorted(path.stem for path in FOLDER.glob("*.yaml"))


@cache
def calendar(country: str) -> Calendar:
    """The calendar of ``country`` (``fr``, ``ru``, ``vn``), read once per process."""
    path = FOLDER / f"{country}.yaml"
    if country not in countries():
        raise DomainError(f"no calendar for {country!r}; known: {countries()}", field="country")
    return Calendar(country, yaml.safe_load(path.read_text(encoding="utf-8")))
