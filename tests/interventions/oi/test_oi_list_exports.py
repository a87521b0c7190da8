"""The interventions list exports what its filters and search select, as CSV, XLSX or PDF, with
headers in the reader's language, times in the desk's zone, and a bound on the number of rows."""

from __future__ import annotations

import csv
import io
from datetime import datetime

import pytest
from openpyxl import load_workbook

from tests.interventions.support import post_m1, post_m3
from tests.support import pdf_text, sign_in
from tocsin.interventions.oi import pages

EXPORT = "/interventions/oi/interventions"


@pytest.fixture
def works(client, database, do_headers):
    alpha = post_m1(client, do_headers, "REF-ALPHA-001")
    beta = post_m1(client, do_headers, "REF-BETA-002", PM="FI-12345-0002")
    post_m3(client, do_headers, "REF-BETA-002", PM="FI-12345-0002")
    gamma = post_m1(client, do_headers, "OTHER-003")
    return {"alpha": alpha, "beta": beta, "gamma": gamma}


def test_csv_holds_the_searched_and_filtered_rows_with_english_headers(client, database, works):
    sign_in(client, database, "olive", ["viewer"])
    reply = client.get(f"{EXPORT}.csv", params={"q": "REF-", "status": "ended", "lang": "en"})
    assert reply.status_code == 200 and reply.headers["content-type"].startswith("text/csv")
    assert 'filename="interventions-20261120-1000.csv"' in reply.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(reply.text)))
    assert rows[0][:6] == ["Ref_Interv_OI", "Ref_Interv_DO", "DO", "PM", "Start", "End"]
    assert [r[0] for r in rows[1:]] == [works["beta"]]
    assert rows[1][3:6] == ["FI-12345-0002", "2026-11-20 10:00:00", "2026-11-20 11:30:00"]
    assert rows[1][7:9] == ["PT0012345", "FI-1234-5678"]


def test_french_headers_for_a_french_reader(client, database, works):
    sign_in(client, database, "olive", ["viewer"])
    header = client.get(f"{EXPORT}.csv", params={"lang": "fr"}).text.splitlines()[0]
    assert header.startswith("Ref_Interv_OI,Ref_Interv_DO,DO,PM,Début,Fin,")


def test_xlsx_keeps_times_as_dates_in_the_desks_zone(client, database, works):
    sign_in(client, database, "olive", ["viewer"])
    reply = client.get(f"{EXPORT}.xlsx", params={"q": "REF-BETA", "lang": "en"})
    assert reply.headers["content-type"] == pages.FORMATS["xlsx"]
    sheet = load_workbook(io.BytesIO(reply.content)).active
    assert sheet["A2"].value == works["beta"] and sheet["E2"].value == datetime(2026, 11, 20, 10, 0)
    assert sheet["E2"].number_format == "yyyy-mm-dd hh:mm" and sheet["J2"].data_type == "n"
    assert sheet.freeze_panes == "A2" and sheet["A1"].font.bold
    assert sheet.max_row == 2


def test_pdf_lists_the_rows(client, database, works):
    sign_in(client, database, "olive", ["viewer"])
    reply = client.get(f"{EXPORT}.pdf", params={"q": "REF-", "lang": "fr"})
    assert reply.headers["content-type"] == "application/pdf" and reply.content.startswith(b"%PDF")
    text = pdf_text(reply.content)
    assert works["alpha"] in text.replace("- ", "-") and works["beta"] in text.replace("- ", "-")
    assert works["gamma"] not in text.replace("- ", "-")
    assert "Rechercher: REF-" in text and "Heures : heure de Paris." in text


def test_an_export_is_bounded_and_says_so(client, database, works, monkeypatch):
    monkeypatch.setattr(pages, "MAX_EXPORT_ROWS", 2)
    sign_in(client, database, "olive", ["viewer"])
    assert len(client.get(f"{EXPORT}.csv", params={"lang": "en"}).text.splitlines()) == 3
    text = pdf_text(client.get(f"{EXPORT}.pdf", params={"lang": "en"}).content)
    assert "The first 2 of 3 interventions" in text


def test_bad_filters_unknown_formats_and_outsiders_are_refused(client, database, works):
    assert client.get(f"{EXPORT}.csv", follow_redirects=False).headers["location"].startswith("/login")
    sign_in(client, database, "tech", ["technician"])
    assert client.get(f"{EXPORT}.csv").status_code == 403
    sign_in(client, database, "olive", ["viewer"])
    assert client.get(f"{EXPORT}.docx").status_code == 404
    refused = client.get(f"{EXPORT}.csv", params={"since": "nope", "lang": "en"})
    assert refused.status_code == 400 and "since" in refused.text
    assert client.get(f"{EXPORT}.xlsx", params={"q": "***"}).status_code == 400
