"""The statistics page marks France's non-working days in its per-day table and gives the average per
working day; a period the calendar does not cover still shows, without that average; every table
exports as XLSX and PDF too."""

from __future__ import annotations

import io
from datetime import date

import pytest
from openpyxl import load_workbook

from tests.interventions.support import add_intervention, utc
from tests.support import pdf_text, sign_in

PAGE = "/interventions/oi/statistics"
ARMISTICE = {"since": "2026-11-09", "until": "2026-11-15"}  # Monday to Sunday, 11 November a holiday


@pytest.fixture
def week(database, oi_config):
    with database.session() as db:
        add_intervention(db, "MON", do="DOXX", pm="PM-1", debut=utc(9, 9), delay_min=5)
        add_intervention(db, "MON2", do="DOXX", pm="PM-1", debut=utc(9, 10), delay_min=5)
        add_intervention(db, "WED", do="DOXX", pm="PM-1", debut=utc(11, 9), delay_min=5)  # Armistice
        add_intervention(db, "THU", do="DOXX", pm="PM-2", debut=utc(12, 9), delay_min=5)
        add_intervention(db, "SAT", do="OCBB", pm="PM-2", debut=utc(14, 9), delay_min=5)


def test_non_working_days_are_marked_and_the_average_counts_working_days(client, database, week):
    sign_in(client, database, "olive", ["viewer"])
    page = client.get(PAGE, params=ARMISTICE | {"lang": "en"}).text
    assert '<tr class="closed"><th scope="row">11/11/2026</th><td>1</td><td>Armistice 1918</td></tr>' in page
    assert '<tr class="closed"><th scope="row">14/11/2026</th><td>1</td><td>Weekend</td></tr>' in page
    assert '<tr><th scope="row">12/11/2026</th><td>1</td><td></td></tr>' in page
    assert '<th scope="row">Working days</th><td>4</td>' in page
    assert '<th scope="row">Average per working day</th><td>0.75</td>' in page  # 3 on 4 working days


def test_in_french_the_average_uses_a_decimal_comma(client, database, week):
    sign_in(client, database, "olive", ["viewer"])
    page = client.get(PAGE, params=ARMISTICE | {"lang": "fr"}).text
    assert "<td>0,75</td>" in page and "Week-end" in page and "Jours ouvrés" in page


def test_a_period_outside_the_calendar_shows_without_an_average(client, database, week):
    sign_in(client, database, "olive", ["viewer"])
    reply = client.get(PAGE, params={"since": "2028-01-03", "until": "2028-01-09", "lang": "en"})
    assert reply.status_code == 200
    assert "France&#39;s calendar does not cover this period" in reply.text
    assert "2028 is not in the fr calendar" in reply.text
    assert '<th scope="row">Average per working day</th><td>—</td>' in reply.text


def test_per_day_exports_as_xlsx_with_the_non_working_days(client, database, week):
    sign_in(client, database, "olive", ["viewer"])
    reply = client.get(f"{PAGE}/per_day.xlsx", params=ARMISTICE | {"lang": "en"})
    assert (
        'filename="interventions-per_day-2026-11-09-2026-11-15.xlsx"' in reply.headers["content-disposition"]
    )
    sheet = load_workbook(io.BytesIO(reply.content)).active
    assert [c.value for c in sheet[1]] == ["Day", "Interventions", "Non-working day"]
    assert sheet["A2"].value.date() == date(2026, 11, 9) and sheet["B2"].value == 2
    assert sheet["C4"].value == "Armistice 1918" and sheet["C3"].value is None


def test_every_table_exports_as_pdf(client, database, week):
    sign_in(client, database, "olive", ["viewer"])
    for table in ("summary", "per_day", "per_pm", "per_do", "delay_per_do"):
        reply = client.get(f"{PAGE}/{table}.pdf", params=ARMISTICE | {"lang": "fr"})
        assert reply.status_code == 200 and reply.content.startswith(b"%PDF"), table
        assert "2026-11-09" in pdf_text(reply.content), table
