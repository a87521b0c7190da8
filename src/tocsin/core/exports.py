"""Exports people open in spreadsheets or print: one ``Table`` (title, header, rows) becomes CSV,
XLSX or PDF bytes with their media type and file name (``export``).

A text cell that starts with ``= + - @``, a tab or a carriage return would run as a formula in Excel
or LibreOffice (CSV injection). In CSV it is written with a leading apostrophe; in XLSX it is stored
as text with the spreadsheet's own quote prefix (what typing the apostrophe does), so it shows as
typed and never turns into a formula, even when edited. Numbers, dates and values a desk has
validated (``Verbatim``, e.g. an E.164 phone number such as +33612345678) are written as they are:
numbers stay numbers and dates dates in XLSX.

PDF is drawn from an HTML table by WeasyPrint, in the process: A4 with the header row repeated on
every page, page numbers, and fonts (DejaVu) that cover Latin with Vietnamese marks and Cyrillic.
"""

from __future__ import annotations

import csv
import io
import re
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from fastapi.responses import Response
from jinja2 import Environment, FileSystemLoader, select_autoescape

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
FORMATS = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pdf": "application/pdf",
}
DAY_FORMAT = "yyyy-mm-dd"
MOMENT_FORMAT = "yyyy-mm-dd hh:mm"
WIDEST_COLUMN = 60  # characters: longer text wraps in the spreadsheet rather than widening it
TEMPLATES = Path(__file__).parent / "templates"
_pdf_lock = threading.Lock()  # one drawing at a time per process: CPU-bound, and Pango is shared state


class Verbatim(str):
    """Text a desk has validated (a phone number, a code with a fixed pattern): exported unchanged."""


@dataclass(frozen=True)
class Table:
    """What a desk exports: a title, notes under it (period, filters), a header row and rows.

    Aware datetimes are shown in ``zone``; numbers, dates and text keep their types as far as the
    format allows.
    """

    title: str
    header: Sequence[str]
    rows: Sequence[Sequence[Any]]
    notes: Sequence[str] = ()
    zone: ZoneInfo = field(default_factory=lambda: ZoneInfo("UTC"))
    made_at: datetime | None = None  # printed under the title of a PDF


@dataclass(frozen=True)
class Export:
    """An export's bytes, media type and file name, ready to send."""

    body: bytes
    media_type: str
    filename: str

    def response(self) -> Response:
        """An attachment download (the name also given in UTF-8 for non-ASCII titles)."""
        ascii_name = re.sub(r"[^A-Za-z0-9._-]", "_", self.filename)
        disposition = f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(self.filename)}"
        return Response(
            self.body,
            media_type=self.media_type,
            headers={"Content-Disposition": disposition, "Cache-Control": "no-store"},
        )


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


def export(table: Table, *, kind: str, name: str, lang: str = "en") -> Export:
    """``table`` as ``kind`` (csv, xlsx or pdf), in a file called ``name`` plus the extension."""
    if kind not in FORMATS:
        raise ValueError(f"kind: {kind!r} is not one of {sorted(FORMATS)}")
    if kind == "csv":
        rows = [table.header, *[[_local(v, table.zone) for v in row] for row in table.rows]]
        body = csv_text(rows).encode("utf-8")
    elif kind == "xlsx":
        body = xlsx_bytes(table)
    else:
        body = pdf_bytes(table, lang=lang)
    return Export(body, FORMATS[kind], f"{name}.{kind}")


def _local(value: Any, zone: ZoneInfo) -> Any:
    """An aware datetime as a naive local one (spreadsheets keep no zone); other values unchanged."""
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(zone).replace(tzinfo=None)
    return value


def xlsx_bytes(table: Table) -> bytes:
    """One sheet: a bold, frozen header row, typed cells, columns as wide as their content."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font

    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = re.sub(r"[\[\]:*?/\\]", " ", table.title)[:31] or "Export"
    workbook.properties.title = table.title
    if table.notes:
        workbook.properties.description = "\n".join(table.notes)
    sheet.append([str(h) for h in table.header])
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    widths = [len(str(h)) for h in table.header]
    for number, row in enumerate(table.rows, start=2):
        for column, value in enumerate(row, start=1):
            cell = sheet.cell(row=number, column=column)
            shown = _typed(cell, _local(value, table.zone))
            if column <= len(widths):
                widths[column - 1] = max(widths[column - 1], len(shown))
            else:
                widths.append(len(shown))
    sheet.freeze_panes = "A2"
    for column, width in enumerate(widths, start=1):
        letter = sheet.cell(row=1, column=column).column_letter
        sheet.column_dimensions[letter].width = min(width, WIDEST_COLUMN) + 2
        if width > WIDEST_COLUMN:
            for (cell,) in sheet.iter_rows(min_row=2, min_col=column, max_col=column):
                cell.alignment = Alignment(wrap_text=True, vertical="top")
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _typed(cell: Any, value: Any) -> str:
    """Put ``value`` in ``cell`` with its type and format; returns the text it shows, for widths."""
    if value is None or value == "":
        return ""
    if isinstance(value, bool | int | float | Decimal):
        cell.value = value
        return str(value)
    if isinstance(value, datetime):
        cell.value, cell.number_format = value, MOMENT_FORMAT
        return MOMENT_FORMAT
    if isinstance(value, date):
        cell.value, cell.number_format = value, DAY_FORMAT
        return DAY_FORMAT
    text = str(value)
    cell.value = text
    cell.data_type = "s"  # never "f": openpyxl would otherwise store text starting with = as a formula
    if text.startswith(FORMULA_STARTS):
        cell.quotePrefix = True
    return max(text.split("\n"), key=len)


def pdf_bytes(table: Table, *, lang: str = "en") -> bytes:
    """The table drawn on A4 pages (landscape beyond six columns), header repeated on each page."""
    from weasyprint import HTML

    from tocsin.core.web.formatting import Formatter

    shown = Formatter(lang, table.zone)
    rows = [[_shown(v, shown) for v in row] for row in table.rows]
    page = (
        _pdf_templates()
        .get_template("export.html")
        .render(
            table=table,
            rows=rows,
            lang=lang,
            kinds=_column_kinds(table),
            landscape=len(table.header) > 6,
            wide=len(table.header) > 9,
            made=shown.moment(table.made_at) if table.made_at else "",
        )
    )
    with _pdf_lock:
        return bytes(HTML(string=page, url_fetcher=_no_fetching).write_pdf())


def _column_kinds(table: Table) -> list[str]:
    """Per column: "number" (right-aligned), "moment" (dates, kept on one line) or "text"."""
    kinds = []
    for i in range(len(table.header)):
        values = [row[i] for row in table.rows if i < len(row) and row[i] not in (None, "")]
        if values and all(isinstance(v, int | float | Decimal) and not isinstance(v, bool) for v in values):
            kinds.append("number")
        elif values and all(isinstance(v, date) for v in values):
            kinds.append("moment")
        else:
            kinds.append("text")
    return kinds


def _shown(value: Any, shown: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "✓" if value else "—"
    if isinstance(value, int):
        return str(shown.number(value))
    if isinstance(value, Decimal):  # as many decimals as the value carries (money keeps its cents)
        exponent = value.as_tuple().exponent
        return str(
            shown.number(
                value, decimals=min(-exponent, 6) if isinstance(exponent, int) and exponent < 0 else 0
            )
        )
    if isinstance(value, float):
        return str(shown.number(value, decimals=2))
    if isinstance(value, datetime):
        return str(shown.moment(value))
    if isinstance(value, date):
        return str(shown.day(value))
    return _breakable(str(value))


def _breakable(text: str) -> str:
    """Long runs without a space or hyphen get a zero-width space every 24 characters, so one cell
    cannot push the table off the page (codes still break at their hyphens first)."""
    return re.sub(r"[^\s\-]{25,}", lambda run: "\u200b".join(re.findall(".{1,24}", run.group())), text)


def _no_fetching(url: str, *args: Any, **kwargs: Any) -> Any:
    """Refuse every URL: an export draws only the page it is given (no file, no network)."""
    raise ValueError(f"exports fetch nothing: {url}")


_environment: Environment | None = None


def _pdf_templates() -> Environment:
    global _environment
    if _environment is None:
        _environment = Environment(
            loader=FileSystemLoader(str(TEMPLATES)), autoescape=select_autoescape(["html"])
        )
    return _environment
