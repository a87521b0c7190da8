"""Times show in the desk's zone and the reader's language, numbers and durations in the reader's
convention, and no value can wrap inside a table cell."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from tocsin.core.web.formatting import NBSP, Formatter

PARIS, SAIGON, MOSCOW = ZoneInfo("Europe/Paris"), ZoneInfo("Asia/Ho_Chi_Minh"), ZoneInfo("Europe/Moscow")
AT = datetime(2026, 11, 30, 13, 25, 9, tzinfo=UTC)


@pytest.mark.parametrize(
    ("lang", "zone", "expected"),
    [
        ("fr", PARIS, "30/11/2026 14:25"),
        ("en", PARIS, "30/11/2026, 14:25"),
        ("ru", MOSCOW, "30.11.2026, 16:25"),
        ("vi", SAIGON, "20:25 30/11/2026"),
    ],
)
def test_a_moment_in_the_desks_zone_and_the_readers_form(lang, zone, expected):
    assert Formatter(lang, zone).moment(AT) == expected.replace(" ", NBSP)


def test_seconds_when_asked():
    assert Formatter("fr", PARIS).moment(AT, seconds=True) == f"30/11/2026{NBSP}14:25:09"


@pytest.mark.parametrize(("lang", "expected"), [("fr", "8,3 %"), ("en", "8.3%"), ("ru", "8,3 %")])
def test_percent_in_the_readers_convention(lang, expected):
    assert Formatter(lang, PARIS).percent(0.083).replace(NBSP, " ").replace("\u202f", " ") == expected


@pytest.mark.parametrize(
    ("delta", "expected"),
    [
        (timedelta(minutes=7), "7 min"),
        (timedelta(hours=2, minutes=7), "2 h 7 min"),
        (timedelta(seconds=45), "45 s"),
    ]
    + [(timedelta(minutes=-3), "-3 min"), (timedelta(hours=1), "1 h")],
)
def test_durations_in_french(delta, expected):
    assert Formatter("fr", PARIS).duration(delta) == expected.replace(" ", NBSP)


def test_the_zone_is_named_as_people_say_it():
    assert Formatter("fr", PARIS).zone_name() == "heure de Paris"
    assert Formatter("en", PARIS).zone_name() == "Paris time"


def test_nothing_formatted_contains_a_breaking_space():
    for lang in ("fr", "en", "ru", "vi"):
        f = Formatter(lang, PARIS)
        values = [
            f.moment(AT),
            f.moment(AT, seconds=True),
            f.percent(0.5),
            f.duration(timedelta(hours=3, minutes=2)),
        ]
        values += [f.number(1234567.25, decimals=2), f.day(date(2026, 1, 2))]
        assert not any(" " in v for v in values), (lang, values)


def test_empty_values_show_nothing():
    f = Formatter("fr", PARIS)
    assert [f.moment(None), f.day(None), f.percent(None), f.duration(None), f.number(None)] == [""] * 5


def test_a_fraction_shows_as_a_share_and_a_number():
    from fractions import Fraction

    assert Formatter("fr", PARIS).percent(Fraction(1, 3)) == f"33,3{NBSP}%"
    assert Formatter("fr", PARIS).number(Fraction(3, 2), decimals=2) == "1,50"
    assert Formatter("en", PARIS).number(Fraction(3, 2), decimals=2) == "1.50"
