"""Working-day arithmetic: adding, counting and the deadline rule agree with each other on every day
the data covers (property tests), and with a few days checked by hand."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tocsin.core.calendar import calendar

COUNTRIES = st.sampled_from(["fr", "ru"])
DAYS = st.dates(min_value=date(2024, 3, 1), max_value=date(2026, 6, 30))  # 40 working days stay inside
STEPS = st.integers(min_value=0, max_value=40)


@given(COUNTRIES, DAYS, st.integers(min_value=1, max_value=40))
def test_adding_lands_on_a_working_day_that_many_working_days_later(country, day, count):
    cal = calendar(country)
    later = cal.add_working_days(day, count)
    assert later > day and cal.is_working_day(later)
    assert cal.working_days_between(day, later) == count
    last_worked = day if cal.is_working_day(day) else cal.add_working_days(day, -1)
    assert cal.add_working_days(later, -count) == last_worked


@given(COUNTRIES, DAYS, st.integers(min_value=1, max_value=40), STEPS)
def test_adding_twice_is_adding_the_sum(country, day, first, second):
    cal = calendar(country)
    twice = cal.add_working_days(cal.add_working_days(day, first), second)
    assert twice == cal.add_working_days(day, first + second)


@given(COUNTRIES, DAYS, DAYS, DAYS)
def test_counting_is_additive_and_antisymmetric(country, a, b, c):
    cal = calendar(country)
    assert cal.working_days_between(a, c) == cal.working_days_between(a, b) + cal.working_days_between(b, c)
    assert cal.working_days_between(a, b) == -cal.working_days_between(b, a)


@given(COUNTRIES, DAYS)
def test_a_deadline_moves_only_off_non_working_days(country, day):
    cal = calendar(country)
    due = cal.deadline(day)
    assert cal.is_working_day(due) and due >= day
    assert (due == day) == cal.is_working_day(day)
    assert all(not cal.is_working_day(date.fromordinal(n)) for n in range(day.toordinal(), due.toordinal()))
    assert cal.next_working_day(day) == cal.add_working_days(day, 1)


@pytest.mark.parametrize(
    ("country", "day", "count", "expected"),
    [
        ("fr", date(2026, 12, 24), 1, date(2026, 12, 28)),  # Christmas Friday, then the weekend
        ("fr", date(2026, 5, 13), 1, date(2026, 5, 15)),  # Ascension Thursday
        ("ru", date(2025, 12, 30), 1, date(2026, 1, 12)),  # New Year holidays and the 9 January day off
        ("ru", date(2024, 4, 26), 1, date(2024, 4, 27)),  # a working Saturday
        ("vn", date(2025, 1, 24), 1, date(2025, 2, 3)),  # Tết 2025
    ],
)
def test_known_next_days(country, day, count, expected):
    assert calendar(country).add_working_days(day, count) == expected


def test_a_deadline_on_a_holiday_moves_to_the_next_working_day():
    fr = calendar("fr")
    assert fr.deadline(date(2026, 11, 11)) == date(2026, 11, 12)
    assert fr.deadline(date(2026, 11, 14)) == date(2026, 11, 16)
    assert fr.deadline(date(2026, 11, 13)) == date(2026, 11, 13)
