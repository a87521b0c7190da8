"""Browser: an operator uploads an outage file and finds it in the import history, downloads it back,
then sees an infected file refused with its reason and listed, nothing imported."""

from __future__ import annotations

import pytest

from tests.browser import sign_in_page
from tests.clamd import EICAR
from tests.interventions.support import GOOD_OUTAGE_CSV, apply_oc_config


@pytest.mark.browser
def test_operator_uploads_finds_the_file_in_the_history_and_an_infected_one_refused(
    page, database, clock, clamd
):
    apply_oc_config(database, clock())
    sign_in_page(page, database, "olga", ["operator"])

    page.goto("/interventions/oc/outages?lang=en")
    page.get_by_label("CSV file of line cuts").set_input_files(
        {"name": "coupures été.csv", "mimeType": "text/csv", "buffer": GOOD_OUTAGE_CSV.encode()}
    )
    page.get_by_role("button", name="Import").click()
    assert "2 cut(s) imported, 0 duplicate(s) skipped." in page.get_by_role("status").inner_text()
    history = page.get_by_role("table", name="Import history")
    first = history.locator("tbody tr").first
    assert "olga" in first.inner_text() and "2 imported, 0 duplicate(s)" in first.inner_text()
    with page.expect_download() as download:
        first.get_by_role("link", name="coupures été.csv").click()
    assert download.value.suggested_filename == "coupures été.csv"
    assert download.value.path().read_bytes() == GOOD_OUTAGE_CSV.encode()

    page.get_by_label("CSV file of line cuts").set_input_files(
        {"name": "virus.csv", "mimeType": "text/csv", "buffer": EICAR}
    )
    page.get_by_role("button", name="Import").click()
    summary = page.get_by_role("alert")
    assert "virus.csv contains a virus" in summary.inner_text()
    summary.get_by_role("link").first.click()
    assert page.evaluate("document.activeElement.id") == "file"
    newest = page.get_by_role("table", name="Import history").locator("tbody tr").first
    assert "Refused" in newest.inner_text() and "virus.csv contains a virus" in newest.inner_text()
    assert newest.get_by_role("link").count() == 0
    assert page.get_by_role("table", name="Recent cuts").locator("tbody tr").count() == 2
