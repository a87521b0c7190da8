"""One way to show times, numbers, durations, percents and file sizes: in the desk's time zone and the
reader's language (CLDR data through Babel), never broken across lines. Every page of every desk uses it."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_date, get_timezone_location
from babel.numbers import format_decimal, format_percent

from tocsin.core.files.names import size_text

NBSP = "\u00a0"
# The CLDR locale behind each page language: English pages use the 24-hour, day-first British forms.
LOCALES = {"en": "en_GB", "fr": "fr", "ru": "ru", "vi": "vi"}
# Day and moment as each language's readers write them (full year, 24-hour clock).
DAY = {"en": "dd/MM/yyyy", "fr": "dd/MM/yyyy", "ru": "dd.MM.yyyy", "vi": "dd/MM/yyyy"}
MOMENT = {"en": "{day}, {time}", "fr": "{day} {time}", "ru": "{day}, {time}", "vi": "{time} {day}"}
ZONE_LABELS = {"en": "{city} time", "fr": "heure de {city}", "ru": "время: {city}", "vi": "giờ {city}"}
# Short duration units (CLDR's English short forms are "mins", "hrs": not what people write).
UNITS = {
    "en": ("h", "min", "s"),
    "fr": ("h", "min", "s"),
    "ru": ("ч", "мин", "с"),
    "vi": ("giờ", "phút", "giây"),
}


class Formatter:
    """Formats values for one reader (``lang``) of one desk (``zone``)."""

    def __init__(self, lang: str, zone: ZoneInfo) -> None:
        self.lang, self.zone = lang, zone
        self.locale = Locale.parse(LOCALES.get(lang, "en_GB"))

    def moment(self, value: datetime | None, *, seconds: bool = False) -> str:
        """An instant in the desk's zone: 30/11/2026 14:25 (fr), 30/11/2026, 14:25 (en)."""
        if value is None:
            return ""
        local = value.astimezone(self.zone)
        clock = f"{local:%H:%M:%S}" if seconds else f"{local:%H:%M}"
        return _unbroken(MOMENT.get(self.lang, MOMENT["en"]).format(day=self.day(local.date()), time=clock))

    def day(self, value: date | None) -> str:
        if value is None:
            return ""
        return format_date(value, DAY.get(self.lang, DAY["en"]), locale=self.locale)

    def field(self, value: datetime | None) -> str:
        """An instant as the value of a ``datetime-local`` field, in the desk's zone (2026-11-30T14:25)."""
        return "" if value is None else value.astimezone(self.zone).strftime("%Y-%m-%dT%H:%M")

    def time(self, value: datetime | None) -> str:
        return "" if value is None else f"{value.astimezone(self.zone):%H:%M}"

    def zone_name(self) -> str:
        """« heure de Paris », "Paris time": the zone every time on the page is shown in."""
        city = get_timezone_location(self.zone, locale=self.locale, return_city=True)
        return ZONE_LABELS.get(self.lang, ZONE_LABELS["en"]).format(city=city)

    def number(self, value: float | int | Decimal | Fraction | None, *, decimals: int = 0) -> str:
        if value is None:
            return ""
        pattern = "#,##0" + ("." + "0" * decimals if decimals else "")
        return _unbroken(format_decimal(_decimal(value), pattern, locale=self.locale))

    def percent(self, share: float | Decimal | Fraction | None, *, decimals: int = 1) -> str:
        """A share (0.083) as a percent in the reader's convention: 8,3 % (fr), 8.3% (en)."""
        if share is None:
            return ""
        pattern = self.locale.percent_formats[None].pattern.replace("#,##0", "#,##0." + "0" * decimals, 1)
        return _unbroken(format_percent(_decimal(share), pattern, locale=self.locale))

    def size(self, value: int | None) -> str:
        """A file size in decimal units: 4,8 Mo (fr), 4.8 MB (en)."""
        return "" if value is None else _unbroken(size_text(value, str(self.locale)))

    def duration(self, value: timedelta | None) -> str:
        """7 min, 2 h 7 min, 45 s; a negative delay keeps its sign."""
        if value is None:
            return ""
        seconds = int(round(value.total_seconds()))
        sign, seconds = ("-" if seconds < 0 else ""), abs(seconds)
        hours, minutes = divmod(seconds // 60, 60)
        hour, minute, second = UNITS.get(self.lang, UNITS["en"])
        if hours:
            parts = [f"{hours}{NBSP}{hour}"] + ([f"{minutes}{NBSP}{minute}"] if minutes else [])
        elif minutes:
            parts = [f"{minutes}{NBSP}{minute}"]
        else:
            parts = [f"{seconds}{NBSP}{second}"]
        return sign + NBSP.join(parts)


def _decimal(value: float | int | Decimal | Fraction) -> Decimal:
    """A value as Babel rounds it: floats by their shortest repr, fractions (statistics' shares) exactly
    enough for any shown precision."""
    if isinstance(value, Fraction):
        return Decimal(value.numerator) / Decimal(value.denominator)
    return value if isinstance(value, Decimal) else Decimal(str(value))


def _unbroken(text: str) -> str:
    """Ordinary spaces become no-break spaces, so a value never wraps in a table cell."""
    return text.replace(" ", NBSP)
