"""Exports people open in spreadsheets. A text cell that starts with ``= + - @``, a tab or a carriage
return would run as a formula in Excel or LibreOffice (CSV injection): it is written with a leading
apostrophe. Numbers, dates and values a desk has validated (``Verbatim``, e.g. an E.164 phone number
such as +33612345678) are written as they are."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from datetime import date, datetime
from decimal import Decimal
from typing import Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


class Verbatim(str):
    """Text a desk has validated (a phone number, a code with a fixed pattern): exported unchanged."""


def safe_cell(value: Any) -> Any:
    """The value as a spreadsheet should receive it."""
    if value is None:
        return ""
    if isinstance(value, bool | int | float | Decimal | date | datetime | Verbatim):
        return value
    text = str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def csv_text(rows: Iterable[Iterable[Any]]) -> str:
    """Rows as CSV (comma-separated, ``\\n`` line ends), every cell made safe."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    for row in rows:
        writer.writerow([safe_cell(cell) for cell in row])
    return buffer.getvalue()
