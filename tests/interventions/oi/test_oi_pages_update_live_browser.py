"""In a real browser, the OI's open pages follow what happens without a reload: a new M1 posted through
/v1 appears in the interventions list, a delivery that fails appears on the deliveries page; both are
announced politely to screen readers and the keyboard focus stays where it was."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser import sign_in_page
from tests.interventions.support import fail_deliveries, post_m1

LIVE_ON = "This page updates by itself."


def wait_until_live(page) -> None:
    """The event stream is open (the page says so once the browser has connected)."""
    expect(page.locator("[data-live-status]")).to_have_text(LIVE_ON, timeout=15_000)


@pytest.mark.browser
def test_a_new_m1_appears_in_the_open_list_and_the_focus_stays(page, client, database, do_headers):
    first = post_m1(client, do_headers, "LIVE-A")
    sign_in_page(page, database, "olive", ["viewer"])
    page.goto("/interventions/oi/interventions?lang=en")
    wait_until_live(page)
    page.evaluate("window.notReloaded = true")
    link = page.get_by_role("link", name=first)
    link.focus()

    second = post_m1(client, do_headers, "LIVE-B")

    expect(page.get_by_role("link", name=second)).to_be_visible(timeout=15_000)
    expect(page.locator("[data-live-announce]")).to_have_text(
        f"New interventions: {second} (PM FI-12345-0001)", timeout=15_000
    )
    expect(page.locator("main")).to_contain_text("2 interventions found")
    assert page.evaluate("window.notReloaded") is True
    assert page.evaluate("document.activeElement.textContent") == first
    assert page.evaluate("document.activeElement === document.querySelector('a[href$=\"/" + first + "\"]')")


@pytest.mark.browser
def test_a_failing_delivery_appears_on_the_open_deliveries_page(page, client, database, clock, do_headers):
    sign_in_page(page, database, "olive", ["operator"])
    page.goto("/interventions/oi/deliveries?lang=en")
    wait_until_live(page)
    page.evaluate("window.notReloaded = true")
    page.get_by_label("Partner", exact=True).first.focus()

    ref = post_m1(client, do_headers, "LIVE-F")
    waiting = page.locator("tr[id^=waiting-]")
    expect(waiting).to_have_count(2, timeout=15_000)
    expect(waiting.first).to_contain_text("not tried yet")

    fail_deliveries(database, clock)

    failed = page.locator("tr[id^=message-]")
    expect(failed).to_have_count(2, timeout=15_000)
    expect(failed.first).to_contain_text("Sending failed: connection refused.")
    expect(failed.first).to_contain_text(ref)
    expect(waiting).to_have_count(0)
    announced = page.locator("[data-live-announce]")
    expect(announced).to_contain_text("Deliveries failed: M2 to OC", timeout=15_000)
    assert page.evaluate("window.notReloaded") is True
    assert page.evaluate("document.activeElement.id") == "partner"
