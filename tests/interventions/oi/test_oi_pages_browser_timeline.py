"""Browser flow of the OI pages: sign in, list, filter, open an intervention with the keyboard only,
and read its whole timeline (M1, M2 to two OCs with attempts, M3, M4, M5)."""

from __future__ import annotations

import pytest

from tests.browser import sign_in_page
from tests.interventions.support import fail_deliveries, m5_line, post_m1, post_m3, post_m5


@pytest.mark.browser
def test_operator_follows_an_intervention_timeline(page, client, database, clock, do_headers, ocbb_headers):  # noqa: F811
    other = post_m1(client, do_headers, "BR-OTHER", PM="FI-12345-0002")
    ref = post_m1(client, do_headers, "BR-1")
    clock.advance(minutes=1)
    fail_deliveries(database, clock)
    clock.advance(minutes=30)
    post_m3(client, do_headers, "BR-1")
    fail_deliveries(database, clock)
    clock.advance(minutes=5)
    post_m5(client, ocbb_headers, ref, "OCBB", [m5_line("FI-77", "2026-11-20T10:20:00+01:00")])

    sign_in_page(page, database, "olive", ["operator"])
    page.goto("/interventions/oi/interventions?lang=en")
    assert page.get_by_role("link", name=other).is_visible()
    page.get_by_label("PM").select_option("FI-12345-0001")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url("**pm=FI-12345-0001**")
    assert page.get_by_role("link", name=other).count() == 0

    for _ in range(60):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.textContent") == ref:
            break
    assert page.evaluate("document.activeElement.textContent") == ref
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/interventions/oi/interventions/{ref}")

    timeline = page.locator("ol.timeline")
    text = timeline.inner_text()
    for expected in ("M1 received from DOXX", "M2 to OCBB", "M2 to OCCC", "M3 received from DOXX"):
        assert expected in text
    assert "M4 to OCBB" in text and "M4 to OCCC" in text and "M5 received from OCBB" in text
    assert text.index("M1 received") < text.index("M2 to OCBB") < text.index("M3 received") < text.index("M5")
    attempts = page.get_by_role("table", name="Delivery attempts of M2 to OCCC")
    assert "Sending failed: connection refused." in attempts.inner_text()
    assert "ConnectError" not in attempts.inner_text()  # the operator's detail, folded away
    attempts.get_by_text("Technical detail").first.click()
    assert attempts.get_by_text("ConnectError").first.is_visible()
    assert page.get_by_role("table", name="Lines reported down by OCBB").is_visible()
