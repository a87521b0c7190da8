"""The calendar files hold what the law and the decrees say: France's movable holidays follow Easter,
Russia's yearly totals match its official production calendars, Viet Nam's swaps balance, every year
names its source, and years the data does not confirm are refused rather than guessed."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
import yaml

from tocsin.core.calendar import FOLDER, OutsideCalendar, calendar, countries


def easter(year: int) -> date:
    """Gregorian Easter Sunday (the anonymous algorithm, Meeus/Jones/Butcher)."""
    a, b, c = year % 19, year // 100, year % 100
    d, e = divmod(b, 4)
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    el = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * el) // 451
    month, day = divmod(h + el - 7 * m + 114, 31)
    return date(year, month, day + 1)


def working_days_in(country: str, year: int) -> int:
    cal = calendar(country)
    return cal.working_days_between(date(year, 1, 1), date(year, 12, 31)) + int(
        cal.is_working_day(date(year, 1, 1))
    )


def test_every_country_file_is_here():
    assert countries() == ["fr", "ru", "vn"]


@pytest.mark.parametrize("year", [2024, 2025, 2026, 2027])
def test_french_movable_holidays_follow_easter(year):
    holidays = calendar("fr").holidays
    sunday = easter(year)
    assert holidays[sunday + timedelta(days=1)] == "Lundi de Pâques"
    assert holidays[sunday + timedelta(days=39)] == "Ascension"
    assert holidays[sunday + timedelta(days=50)] == "Lundi de Pentecôte"
    assert sum(1 for d in holidays if d.year == year) == 11


@pytest.mark.parametrize(("year", "total"), [(2024, 248), (2025, 247), (2026, 247)])
def test_russian_years_have_their_official_number_of_working_days(year, total):
    assert working_days_in("ru", year) == total


def test_russian_working_saturdays_and_moved_days_off():
    ru = calendar("ru")
    assert ru.is_working_day(date(2024, 4, 27)) and ru.is_working_day(date(2025, 11, 1))
    assert not ru.is_working_day(date(2024, 4, 29)) and not ru.is_working_day(date(2025, 6, 13))
    assert not ru.is_working_day(date(2026, 1, 9)) and not ru.is_working_day(date(2026, 12, 31))


def test_vietnamese_swaps_balance_and_tet_is_off():
    vn = calendar("vn")
    assert all(d.weekday() == 5 for d in vn.working_days)
    for year in (2024, 2025):
        swapped = [d for d, why in vn.days_off.items() if d.year == year and "hoán đổi" in why]
        assert len(swapped) == sum(1 for d in vn.working_days if d.year == year)
    assert not vn.is_working_day(date(2025, 1, 29)) and vn.is_working_day(date(2025, 2, 3))
    assert vn.is_working_day(date(2026, 1, 10)) and not vn.is_working_day(date(2026, 2, 20))


@pytest.mark.parametrize("country", ["fr", "ru", "vn"])
def test_every_listed_day_belongs_to_its_year_and_working_days_are_weekend_days(country):
    data = yaml.safe_load((FOLDER / f"{country}.yaml").read_text(encoding="utf-8"))
    for year, entry in data["years"].items():
        assert entry.get("source") or entry.get("pending"), f"{country} {year} names no source"
        for kind in ("holidays", "days_off", "working_days"):
            assert all(d.year == year for d in entry.get(kind) or {}), f"{country} {year} {kind}"
        for day in entry.get("working_days") or {}:
            assert day.weekday() >= 5
        for day in entry.get("days_off") or {}:
            assert day.weekday() < 5, f"{country} {day} is a day off on a weekend"


@pytest.mark.parametrize(
    ("country", "day", "named"),
    [
        ("fr", date(2023, 12, 29), "2023"),
        ("fr", date(2028, 1, 3), "2028"),
        ("ru", date(2027, 3, 1), "2027"),
        ("vn", date(2027, 1, 4), "2027"),
        ("vn", date(2026, 4, 30), "2026"),
    ],
)
def test_a_day_outside_the_data_is_refused_naming_its_year(country, day, named):
    with pytest.raises(OutsideCalendar, match=named):
        calendar(country).is_working_day(day)


def test_arithmetic_that_runs_past_the_data_is_refused():
    with pytest.raises(OutsideCalendar, match="2028"):
        calendar("fr").add_working_days(date(2027, 12, 30), 5)
    with pytest.raises(OutsideCalendar, match="2023"):
        calendar("fr").add_working_days(date(2024, 1, 3), -5)


def test_an_unknown_country_is_refused_naming_it():
    with pytest.raises(Exception, match="xx"):
        calendar("xx")
