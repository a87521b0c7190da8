"""Browser: an operator uploads the outage feed, fixes a bad file, previews an M5 and sends it."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tests.browser import sign_in_page
from tests.interventions.support import add_received, apply_oc_config
from tocsin.core.outbox import OutboxMessage

HEADER = b"cut_at,pm,pto,pbo,tube,fibre,position,dying_gasp\n"
GOOD = (
    HEADER
    + b"2026-11-20T10:15:00+01:00,FI-12345-0001,FI-1234-0001,PT0012345,T1,F3,M2-P14,non\n"
    + b"2026-11-20T10:20:00+01:00,FI-12345-0001,FI-1234-0002,PT0012345,T1,F4,M2-P15,oui\n"
)
BAD = HEADER + b"tomorrow,FI-12345-0001,FI-1234-0001,,,,,non\n"


@pytest.mark.browser
def test_operator_uploads_cuts_then_previews_and_sends_m5(page, database, clock, clamd):  # noqa: F811
    apply_oc_config(database, clock())
    received_id = add_received(database)
    sign_in_page(page, database, "olga", ["operator"])

    page.goto("/interventions/oc/outages?lang=en")
    page.get_by_label("CSV file of line cuts").set_input_files(
        {"name": "bad.csv", "mimeType": "text/csv", "buffer": BAD}
    )
    page.get_by_role("button", name="Import").click()
    summary = page.get_by_role("alert")
    assert "Line 2, field cut_at" in summary.inner_text()
    summary.get_by_role("link").first.click()
    assert page.evaluate("document.activeElement.id") == "file"

    page.get_by_label("CSV file of line cuts").set_input_files(
        {"name": "cuts.csv", "mimeType": "text/csv", "buffer": GOOD}
    )
    page.get_by_role("button", name="Import").click()
    assert "2 cut(s) imported, 0 duplicate(s) skipped." in page.get_by_role("status").inner_text()

    page.goto("/interventions/oc/received")
    page.get_by_role("link", name="OIAA-20261120-0001").click()
    assert page.url.endswith(f"/interventions/oc/received/{received_id}")
    counted = page.get_by_role("table", name="Customers reported as impacted (1)")
    assert "FI-1234-0001" in counted.inner_text()
    excluded = page.get_by_role("table", name="Cuts left out (1)")
    assert "power cut (dying gasp)" in excluded.inner_text()

    page.get_by_role("button", name="Send M5 now").click()
    assert "The M5 is queued for the OI." in page.get_by_role("status").inner_text()
    assert "Sent, awaiting answer" in page.locator("main").inner_text()
    with database.session() as db:
        (message,) = db.scalars(select(OutboxMessage))
    assert message.kind == "M5" and message.payload["Liste_Clients_HS"][0]["PTO"] == "FI-1234-0001"
