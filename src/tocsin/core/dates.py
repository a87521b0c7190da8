"""Dates, times and small numbers given as text, read strictly and within bounds; pure, no I/O.

Every instant a partner, a phone or a feed sends is read here, so one rule holds everywhere:
RFC 3339 with an offset, years ``MIN_YEAR`` to ``MAX_YEAR``. A refusal is a ``DomainError``
naming the field and the reason in plain English (pages and APIs translate it).
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from tocsin.core.errors import DomainError

MIN_YEAR = 2000
"""The earliest year accepted: work declared, cut or filtered before 2000 is a typo or a probe.

With the latest year, it keeps every instant a day or more away from the ends of what Python and the
databases hold (years 1 and 9999), so no offset, day boundary or delay added later can overflow.
"""
MAX_YEAR = 2099
"""The latest year accepted: far beyond any real date, and a year 9999 that once passed would break
every later computation (end of day, M5 window) of its intervention."""

LONGEST_TEXT = 64  # the longest valid instant is 35 characters; anything longer is refused unread

INSTANT_SHAPE = "must be an RFC 3339 date and time with an offset, e.g. 2026-11-20T10:05:00+01:00"
DAY_SHAPE = "must be a date written YYYY-MM-DD, e.g. 2026-11-20"
LOCAL_SHAPE = "must be a date and time written YYYY-MM-DDTHH:MM, e.g. 2026-11-20T10:05"
YEAR_RANGE = f"the year must be from {MIN_YEAR} to {MAX_YEAR}"
OFFSET_RANGE = "the offset must be at most 23:59 either side of UTC"
NO_SUCH_DATE = "no such date or time exists"

_DATE = r"(?P<year>[0-9]{4})-(?P<month>[0-9]{2})-(?P<day>[0-9]{2})"
_TIME = r"(?P<hour>[0-9]{2}):(?P<minute>[0-9]{2})"
_INSTANT = re.compile(
    _DATE + "[Tt]" + _TIME + r":(?P<second>[0-9]{2})(?:\.(?P<fraction>[0-9]{1,9}))?"
    r"(?:[Zz]|(?P<sign>[+-])(?P<offset_hour>[0-9]{2}):(?P<offset_minute>[0-9]{2}))"
)
_DAY = re.compile(_DATE)
# What <input type="datetime-local"> sends (seconds only when not zero); HTML also allows a space.
_LOCAL = re.compile(_DATE + "[Tt ]" + _TIME + r"(?::(?P<second>[0-9]{2})(?:\.(?P<fraction>[0-9]{1,6}))?)?")
_WHOLE_NUMBER = re.compile(r"-?[0-9]{1,12}")


def instant(text: object, *, field: str) -> datetime:
    """An RFC 3339 date and time with its offset (``t``/``z`` allowed), as an aware UTC datetime."""
    found = _match(_INSTANT, text, field=field, shape=INSTANT_SHAPE)
    _check_year(found, field=field)
    offset = timedelta()
    if found["sign"]:
        hours, minutes = int(found["offset_hour"]), int(found["offset_minute"])
        if hours > 23 or minutes > 59:
            raise DomainError(OFFSET_RANGE, field=field)
        offset = (1 if found["sign"] == "+" else -1) * timedelta(hours=hours, minutes=minutes)
    return _moment(found, timezone(offset), field=field).astimezone(UTC)


def local_day(text: object, *, field: str) -> date:
    """A calendar day written ``YYYY-MM-DD``."""
    found = _match(_DAY, text, field=field, shape=DAY_SHAPE)
    _check_year(found, field=field)
    try:
        return date(int(found["year"]), int(found["month"]), int(found["day"]))
    except ValueError:
        raise DomainError(NO_SUCH_DATE, field=field) from None


def local_moment(text: object, *, field: str, zone: ZoneInfo) -> datetime:
    """A date and time typed in a form (``YYYY-MM-DDTHH:MM[:SS]``) in ``zone``, as an aware UTC datetime.

    A time that a clock change skips or repeats is read with the offset in force before the change.
    """
    found = _match(_LOCAL, text, field=field, shape=LOCAL_SHAPE)
    _check_year(found, field=field)
    return _moment(found, zone, field=field).astimezone(UTC)


def bounded_int(text: object, *, field: str, lowest: int, highest: int, default: int) -> int:
    """A whole number from ``lowest`` to ``highest`` written in digits; ``default`` when empty."""
    if text is None or (isinstance(text, str) and not text.strip()):
        return default
    if not isinstance(text, str) or not _WHOLE_NUMBER.fullmatch(text.strip()):
        raise DomainError(f"must be a whole number from {lowest} to {highest}", field=field)
    number = int(text.strip())
    if not lowest <= number <= highest:
        raise DomainError(f"must be a whole number from {lowest} to {highest}", field=field)
    return number


def _match(pattern: re.Pattern[str], text: object, *, field: str, shape: str) -> re.Match[str]:
    if not isinstance(text, str) or len(text) > LONGEST_TEXT:
        raise DomainError(shape, field=field)
    found = pattern.fullmatch(text)
    if found is None:
        raise DomainError(shape, field=field)
    return found


def _check_year(found: re.Match[str], *, field: str) -> None:
    # Before any datetime is built or converted: an offset then never pushes a value out of range.
    if not MIN_YEAR <= int(found["year"]) <= MAX_YEAR:
        raise DomainError(YEAR_RANGE, field=field)


def _moment(found: re.Match[str], zone: timezone | ZoneInfo, *, field: str) -> datetime:
    fraction = found["fraction"] or ""
    try:
        return datetime(
            int(found["year"]),
            int(found["month"]),
            int(found["day"]),
            int(found["hour"]),
            int(found["minute"]),
            int(found["second"] or 0),  # a leap second (:60) is refused: datetime cannot hold it
            int(fraction[:6].ljust(6, "0")),
            tzinfo=zone,
        )
    except ValueError:
        raise DomainError(NO_SUCH_DATE, field=field) from None
