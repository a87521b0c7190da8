"""In real browsers, the dispatch room: an operator (in Russian) sees the run-over alarm on the map and in
the feed and acknowledges it with the keyboard; a viewer's page (in English, another browser) shows the
acknowledgement and then a new alarm without a reload, the new one announced to screen readers. The page
is photographed on a phone and a desktop (/tmp/dispatch-*.png)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from playwright.sync_api import expect

from tests.browser import sign_in_page
from tests.minesafe.test_dispatch_pages import SITE, T0, stored
from tocsin.minesafe import store
from tocsin.minesafe.model import AlarmEvent, Level

LIVE_ON = "This page updates by itself."


@pytest.mark.browser
def test_an_acknowledgement_and_a_new_alarm_reach_another_open_page(page, browser, base_url, database):
    ids = stored(database)
    alarm = f"#alarm-{ids['run_over']}"

    viewer_context = browser.new_context(base_url=base_url, locale="en-GB")
    try:
        viewer = viewer_context.new_page()
        sign_in_page(viewer, database, "gate", ["viewer"])
        viewer.goto("/minesafe/?lang=en")
        expect(viewer.locator("[data-live-status]")).to_have_text(LIVE_ON, timeout=15_000)
        viewer.evaluate("window.notReloaded = true")
        expect(viewer.locator(alarm)).to_contain_text("Run-over danger")
        expect(viewer.locator(alarm)).to_contain_text("new")
        expect(viewer.get_by_role("button", name="Acknowledge")).to_have_count(0)

        sign_in_page(page, database, "op", ["operator"])
        page.goto("/minesafe/?lang=ru")
        expect(page.locator(".sos-banner")).to_contain_text("blaster")
        expect(page.locator("#map-quarry-0")).to_have_attribute("data-ring", "danger")
        expect(page.locator(alarm)).to_contain_text("Опасность наезда")
        button = page.locator(alarm).get_by_role("button", name="Подтвердить тревогу")
        button.focus()
        page.keyboard.press("Enter")
        expect(page.locator("[role=status]").filter(has_text="подтверждена")).to_be_visible(timeout=15_000)
        expect(page.locator(alarm)).to_contain_text("подтверждена · op")
        expect(page.locator(alarm).get_by_role("button")).to_have_count(0)

        expect(viewer.locator(f"{alarm} .state")).to_contain_text("acknowledged · by op", timeout=15_000)

        with database.session() as db:
            event = AlarmEvent(t=T0 + 30, type="overspeed", level=Level.WARNING, ids=("quarry:1",))
            store.save_events(db, [event], site=SITE.name, now=datetime.fromtimestamp(T0 + 30, UTC))
        expect(viewer.locator(".alarm", has_text="Speeding")).to_be_visible(timeout=15_000)
        expect(viewer.locator("[data-live-announce]")).to_contain_text(
            "New alarms: Warning: Speeding (БелАЗ-7547 №2)", timeout=15_000
        )
        assert viewer.evaluate("window.notReloaded") is True

        for name, size in {"phone": (390, 844), "desktop": (1600, 900)}.items():
            page.set_viewport_size({"width": size[0], "height": size[1]})
            page.goto("/minesafe/?lang=ru")
            page.screenshot(path=f"/tmp/dispatch-{name}.png", full_page=True)
            page.screenshot(path=f"/tmp/dispatch-{name}-top.png")
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= size[0], f"{name}: the page scrolls sideways ({width} px)"
    finally:
        viewer_context.close()
