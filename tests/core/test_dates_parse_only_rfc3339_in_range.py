"""The core reads instants as RFC 3339 with an offset, years 2000 to 2099, and nothing else; local days,
form date-times and small numbers by the same strict, bounded rules. Every refusal names the field."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from tocsin.core import dates
from tocsin.core.errors import DomainError

CHECKS = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
PARIS = ZoneInfo("Europe/Paris")

# RFC 3339 §5.6 written out independently of the code under test (ASCII digits only).
RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})", flags=re.ASCII)

in_range = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31, 23, 59, 59, 999999))
offsets = st.integers(min_value=-(23 * 60 + 59), max_value=23 * 60 + 59).map(lambda m: timedelta(minutes=m))
out_of_range_years = st.one_of(st.integers(1, 1999), st.integers(2100, 9999))


def offset_text(offset: timedelta, zulu: str) -> str:
    if offset == timedelta() and zulu:
        return zulu
    minutes = int(offset.total_seconds()) // 60
    sign = "+" if minutes >= 0 else "-"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def written(
    local: datetime, offset: timedelta, *, separator: str = "T", digits: int = 6, zulu: str = ""
) -> str:
    fraction = f".{local.microsecond:06d}{'0' * max(0, digits - 6)}"[: digits + 1] if digits else ""
    return f"{local:%Y-%m-%d}{separator}{local:%H:%M:%S}{fraction}{offset_text(offset, zulu)}"


def refused(call, *args, field: str, **kwargs) -> DomainError:
    with pytest.raises(DomainError) as caught:
        call(*args, field=field, **kwargs)
    assert caught.value.field == field and caught.value.reason
    return caught.value


@CHECKS
@given(
    local=in_range,
    offset=offsets,
    separator=st.sampled_from("Tt"),
    digits=st.integers(0, 9),
    zulu=st.sampled_from(["", "Z", "z"]),
)
def test_a_valid_instant_round_trips_to_the_same_moment_in_utc(local, offset, separator, digits, zulu):
    text = written(local, offset, separator=separator, digits=digits, zulu=zulu)
    parsed = dates.instant(text, field="Debut_Inter")
    kept = local.microsecond - local.microsecond % 10 ** (6 - min(digits, 6))
    expected = local.replace(microsecond=kept, tzinfo=timezone(offset))
    assert parsed == expected and parsed.utcoffset() == timedelta() and parsed.tzinfo is UTC


@CHECKS
@given(local=in_range, year=out_of_range_years, offset=offsets)
def test_a_year_outside_2000_to_2099_is_refused_whatever_the_offset(local, year, offset):
    text = f"{year:04d}" + written(local, offset)[4:]
    error = refused(dates.instant, text, field="HMS_Coupure")
    assert error.reason == dates.YEAR_RANGE  # checked first: even 29 February of a common year


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2000-01-01T00:00:00+23:59", datetime(1999, 12, 31, 0, 1, tzinfo=UTC)),
        ("2000-01-01T00:00:00+14:00", datetime(1999, 12, 31, 10, 0, tzinfo=UTC)),
        ("2099-12-31T23:59:59-12:00", datetime(2100, 1, 1, 11, 59, 59, tzinfo=UTC)),
        ("2099-12-31T23:59:59.999999999-23:59", datetime(2100, 1, 1, 23, 58, 59, 999999, tzinfo=UTC)),
        ("2026-11-20t10:05:00z", datetime(2026, 11, 20, 10, 5, tzinfo=UTC)),
        ("2026-11-20T10:05:00-00:00", datetime(2026, 11, 20, 10, 5, tzinfo=UTC)),
    ],
)
def test_the_edges_of_the_range_are_accepted_with_any_offset(text, expected):
    assert dates.instant(text, field="Fin_Inter") == expected


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("0001-01-01T00:00:00+23:59", dates.YEAR_RANGE),
        ("9999-12-31T23:59:59-23:59", dates.YEAR_RANGE),
        ("1999-12-31T23:59:59-23:59", dates.YEAR_RANGE),
        ("2100-01-01T00:00:00+23:59", dates.YEAR_RANGE),
        ("2026-11-20T10:05:00+24:00", dates.OFFSET_RANGE),
        ("2026-11-20T10:05:00+01:60", dates.OFFSET_RANGE),
        ("2026-02-29T10:05:00Z", dates.NO_SUCH_DATE),
        ("2026-11-31T10:05:00Z", dates.NO_SUCH_DATE),
        ("2026-11-20T24:00:00Z", dates.NO_SUCH_DATE),
        ("2026-12-31T23:59:60Z", dates.NO_SUCH_DATE),
        ("1763629200", dates.INSTANT_SHAPE),
        ("2026-11-20T10:05:00", dates.INSTANT_SHAPE),
        ("2026-11-20 10:05:00+01:00", dates.INSTANT_SHAPE),
        ("2026-11-20T10:05+01:00", dates.INSTANT_SHAPE),
        ("20261120T100500+0100", dates.INSTANT_SHAPE),
        ("2026-11-20T10:05:00+0100", dates.INSTANT_SHAPE),
        ("2026-W47-5T10:05:00+01:00", dates.INSTANT_SHAPE),
        ("2026-324T10:05:00+01:00", dates.INSTANT_SHAPE),
        ("2026-11-20", dates.INSTANT_SHAPE),
        ("2026-11-20T10:05:00.+01:00", dates.INSTANT_SHAPE),
        ("2026-11-20T10:05:00.1234567890Z", dates.INSTANT_SHAPE),
        (" 2026-11-20T10:05:00Z", dates.INSTANT_SHAPE),
        ("2026-11-20T10:05:00Z\n", dates.INSTANT_SHAPE),
        ("２０２６-11-20T10:05:00Z", dates.INSTANT_SHAPE),
        ("+2026-11-20T10:05:00Z", dates.INSTANT_SHAPE),
        (1763629200, dates.INSTANT_SHAPE),
        (1763629200.5, dates.INSTANT_SHAPE),
        (True, dates.INSTANT_SHAPE),
        (None, dates.INSTANT_SHAPE),
        (["2026-11-20T10:05:00Z"], dates.INSTANT_SHAPE),
        ("2026-11-20T10:05:00Z" + "0" * 5000, dates.INSTANT_SHAPE),
    ],
)
def test_other_shapes_numbers_and_impossible_times_are_refused_with_the_reason(text, reason):
    assert refused(dates.instant, text, field="Debut_Inter").reason == reason


@CHECKS
@given(
    value=st.one_of(
        st.text(),
        st.integers().map(str),
        st.floats().map(str),
        st.datetimes().map(datetime.isoformat),
        st.dates().map(date.isoformat),
        st.datetimes(timezones=st.timezones()).map(lambda d: d.isoformat(sep=" ")),
        st.datetimes(timezones=st.timezones()).map(lambda d: d.strftime("%Y%m%dT%H%M%S%z")),
    )
)
def test_anything_that_is_not_rfc3339_in_range_is_refused_naming_the_field(value):
    assume(not (RFC3339.fullmatch(value) and 2000 <= int(value[:4]) <= 2099))
    refused(dates.instant, value, field="cut_at")


def oracle(text: str) -> datetime | None:
    """What RFC 3339 and the year range say ``text`` means, read by the standard library."""
    found = RFC3339.fullmatch(text)
    if not found or not 2000 <= int(text[:4]) <= 2099:
        return None
    if found[2] not in "Zz" and (int(found[2][1:3]) > 23 or int(found[2][4:]) > 59):
        return None  # RFC 3339 time-numoffset: hour 00-23, minute 00-59 (the standard library is laxer)
    try:
        return datetime.fromisoformat(text.upper())
    except ValueError:
        return None


@CHECKS
@given(
    local=in_range,
    offset=offsets,
    digits=st.integers(0, 6),
    edit=st.sampled_from(["replace", "insert", "delete"]),
    data=st.data(),
)
def test_one_character_changed_is_accepted_only_if_still_a_valid_instant(local, offset, digits, edit, data):
    text = written(local, offset, digits=digits)
    at = data.draw(st.integers(0, len(text) - 1), label="position")
    character = data.draw(st.one_of(st.sampled_from("0123456789:-+.TtZz "), st.characters()), label="char")
    changed = {
        "replace": text[:at] + character + text[at + 1 :],
        "insert": text[:at] + character + text[at:],
        "delete": text[:at] + text[at + 1 :],
    }[edit]
    meant = oracle(changed)
    if meant is None:
        refused(dates.instant, changed, field="Debut_Inter")
    else:
        assert dates.instant(changed, field="Debut_Inter") == meant


@CHECKS
@given(value=st.one_of(st.integers(), st.floats(), st.booleans(), st.none(), st.binary()))
def test_values_that_are_not_text_are_refused_naming_the_field(value):
    refused(dates.instant, value, field="started_at")


@CHECKS
@given(day=st.dates(min_value=date(2000, 1, 1), max_value=date(2099, 12, 31)))
def test_a_local_day_round_trips(day):
    assert dates.local_day(day.isoformat(), field="since") == day


@CHECKS
@given(
    value=st.one_of(
        st.text(),
        st.dates().map(date.isoformat).filter(lambda d: not 2000 <= int(d[:4]) <= 2099),
        st.dates().map(lambda d: d.strftime("%d/%m/%Y")),
        st.integers().map(str),
    )
)
def test_a_local_day_outside_the_range_or_shape_is_refused(value):
    assume(not (re.fullmatch(r"\d{4}-\d{2}-\d{2}", value, flags=re.ASCII) and 2000 <= int(value[:4]) <= 2099))
    refused(dates.local_day, value, field="until")


@CHECKS
@given(local=in_range, seconds=st.booleans(), separator=st.sampled_from(["T", "t", " "]))
def test_a_form_date_time_is_read_in_the_desk_zone(local, seconds, separator):
    local = local.replace(microsecond=0, second=local.second if seconds else 0)
    text = local.strftime(f"%Y-%m-%d{separator}%H:%M" + (":%S" if seconds else ""))
    parsed = dates.local_moment(text, field="retry-since", zone=PARIS)
    assert parsed == local.replace(tzinfo=PARIS).astimezone(UTC) and parsed.tzinfo is UTC


@pytest.mark.parametrize(
    "text",
    [
        "2026-11-20T10:05+01:00",
        "2026-11-20T10:05Z",
        "2026-11-20",
        "1763629200",
        "0001-01-01T00:00",
        "9999-12-31T23:59",
    ],
)
def test_a_form_date_time_with_an_offset_or_out_of_range_is_refused(text):
    refused(dates.local_moment, text, field="since", zone=PARIS)


@CHECKS
@given(number=st.integers(1, 100_000), padding=st.sampled_from(["", " ", "0"]))
def test_a_number_in_range_is_read(number, padding):
    text = f"0{number}" if padding == "0" else f"{padding}{number}{padding}"
    assert dates.bounded_int(text, field="page", lowest=1, highest=100_000, default=1) == number


@CHECKS
@given(
    value=st.one_of(
        st.integers().filter(lambda n: not 1 <= n <= 100_000).map(str),
        st.text().filter(lambda t: t.strip() and not t.strip().isascii()),
        st.just(str(10**30)),
        st.just("9" * 5000),
        st.just("²"),
        st.just("1e3"),
        st.just("+5"),
    )
)
def test_a_number_outside_the_bounds_or_not_digits_is_refused(value):
    refused(dates.bounded_int, value, field="page", lowest=1, highest=100_000, default=1)


def test_an_empty_number_takes_the_default():
    for text in ("", "  ", None):
        assert dates.bounded_int(text, field="page", lowest=1, highest=9, default=1) == 1
