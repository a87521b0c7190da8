"""CSV exports: text that a spreadsheet would run as a formula is written with a leading apostrophe;
numbers, dates and validated values are written as they are."""

from __future__ import annotations

import csv
import io
from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tocsin.core.exports import Verbatim, csv_text, safe_cell


@pytest.mark.parametrize(
    "text", ["=1+1", "+33 cmd", "-2+3", "@SUM(A1)", "\tx", "\rx", '=HYPERLINK("http://e")']
)
def test_text_that_starts_a_formula_is_neutralised(text):
    assert safe_cell(text) == "'" + text


@pytest.mark.parametrize("value", [-5, 3.5, Decimal("-1.20"), date(2026, 11, 30), Verbatim("+33612345678")])
def test_numbers_dates_and_validated_values_are_kept(value):
    assert safe_cell(value) == value


def test_a_whole_export_reads_back_as_text_without_formulas():
    rows = [["pm", "count"], ["=cmd|' /C calc'!A0", -3], ["FI-12345-0001", 7]]
    back = list(csv.reader(io.StringIO(csv_text(rows))))
    assert back == [["pm", "count"], ["'=cmd|' /C calc'!A0", "-3"], ["FI-12345-0001", "7"]]


@given(st.text())
def test_no_text_cell_can_start_a_formula(text):
    cell = safe_cell(text)
    assert not cell.startswith(("=", "+", "-", "@", "\t", "\r"))
    assert cell.endswith(text)
