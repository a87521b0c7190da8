"""XLSX and PDF exports from the same table as CSV: XLSX keeps numbers as numbers and dates as dates,
neutralises formulas the CSV way, with a bold frozen header; the PDF holds every row, Vietnamese and
Russian text included (read back with pdftotext)."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook

from tests.support import pdf_text
from tocsin.core.exports import FORMATS, Table, Verbatim, export

PARIS = ZoneInfo("Europe/Paris")
TABLE = Table(
    title="Bảng cân đối số phát sinh",
    header=["Code", "Nom", "Montant", "Jour", "Reçu à", "Téléphone"],
    rows=[
        [
            '=HYPERLINK("http://e")',
            "Sở Thông tin và Truyền thông",
            Decimal("1234.50"),
            date(2026, 11, 20),
            datetime(2026, 11, 20, 9, 5, tzinfo=UTC),
            Verbatim("+33612345678"),
        ],
        ["@SUM(A1)", "Обращение гражданина о ремонте", -3, date(2026, 11, 21), None, "-2+3"],
        ["FI-12345-0001", "x" * 90, 7.25, None, datetime(2026, 11, 21, 23, 30, tzinfo=UTC), ""],
    ],
    notes=["Période : 2026-11-20 au 2026-11-21"],
    zone=PARIS,
    made_at=datetime(2026, 11, 30, 12, 0, tzinfo=UTC),
)


def sheet_of(body: bytes):
    return load_workbook(io.BytesIO(body)).active


def test_xlsx_keeps_numbers_and_dates_typed():
    sheet = sheet_of(export(TABLE, kind="xlsx", name="t").body)
    assert sheet["C2"].value == pytest.approx(1234.5) and sheet["C2"].data_type == "n"
    assert sheet["C3"].value == -3 and sheet["C4"].value == 7.25
    assert sheet["D2"].value == datetime(2026, 11, 20) and sheet["D2"].number_format == "yyyy-mm-dd"
    assert sheet["E2"].value == datetime(2026, 11, 20, 10, 5)  # Paris time, no zone
    assert sheet["E2"].number_format == "yyyy-mm-dd hh:mm"
    assert sheet["B3"].value == "Обращение гражданина о ремонте"


def test_xlsx_never_holds_a_formula():
    sheet = sheet_of(export(TABLE, kind="xlsx", name="t").body)
    cells = [cell for row in sheet.iter_rows() for cell in row]
    assert not [c.coordinate for c in cells if c.data_type == "f"]
    for coordinate, text in [("A2", '=HYPERLINK("http://e")'), ("A3", "@SUM(A1)"), ("F3", "-2+3")]:
        assert sheet[coordinate].value == text and sheet[coordinate].data_type == "s"
        assert sheet[coordinate].quotePrefix, f"{coordinate} would be read as a formula when edited"
    assert sheet["F2"].value == "+33612345678" and sheet["A4"].value == "FI-12345-0001"
    assert not sheet["A4"].quotePrefix


def test_xlsx_header_is_bold_frozen_and_columns_fit():
    sheet = sheet_of(export(TABLE, kind="xlsx", name="t").body)
    assert [c.value for c in sheet[1]] == list(TABLE.header)
    assert all(c.font.bold for c in sheet[1])
    assert sheet.freeze_panes == "A2"
    assert sheet.column_dimensions["B"].width > sheet.column_dimensions["A"].width
    assert sheet.column_dimensions["B"].width <= 62 and sheet["B4"].alignment.wrap_text


def test_pdf_holds_every_row_in_vietnamese_and_russian():
    made = export(TABLE, kind="pdf", name="t", lang="fr")
    assert made.body.startswith(b"%PDF-") and made.media_type == "application/pdf"
    text = pdf_text(made.body)
    for expected in [
        "Bảng cân đối số phát sinh",
        "Sở Thông tin và Truyền thông",
        "Обращение гражданина о ремонте",
        "1 234,50",
        "20/11/2026",
        "22/11/2026 00:30",
        "@SUM(A1)",
        "Période : 2026-11-20 au 2026-11-21",
    ]:
        assert expected in text, expected


def test_a_long_pdf_repeats_its_header_on_every_page():
    rows = [[n, f"Dòng số {n}", "Строка"] for n in range(1, 301)]
    text = pdf_text(export(Table("Long", ["N", "Tên", "Имя"], rows), kind="pdf", name="t").body)
    pages = text.split("\f")
    assert len([p for p in pages if p.strip()]) > 3
    assert all("Tên" in p and "Имя" in p for p in pages if p.strip())
    assert "Dòng số 300" in text and "Dòng số 1 " in text


def test_pdf_fetches_nothing_the_text_names():
    table = Table("Img", ["x"], [['<img src="file:///etc/passwd"> <link href="http://127.0.0.1:9/x">']])
    text = pdf_text(export(table, kind="pdf", name="t").body)
    assert '<img src="file:///etc/passwd">' in text  # shown as text, escaped, never loaded


def test_each_kind_has_its_media_type_and_file_name():
    for kind, media_type in FORMATS.items():
        made = export(TABLE, kind=kind, name="interventions-2026-11")
        assert made.media_type == media_type and made.filename == f"interventions-2026-11.{kind}"
        disposition = made.response().headers["content-disposition"]
        assert disposition.startswith('attachment; filename="interventions-2026-11.')
    with pytest.raises(ValueError, match="kind"):
        export(TABLE, kind="docx", name="t")


def test_a_non_ascii_file_name_is_sent_in_utf8():
    disposition = export(TABLE, kind="csv", name="bảng-cân-đối").response().headers["content-disposition"]
    assert 'filename="b_ng-c_n-__i.csv"' in disposition
    assert "filename*=UTF-8''b%E1%BA%A3ng-c%C3%A2n-%C4%91%E1%BB%91i.csv" in disposition
