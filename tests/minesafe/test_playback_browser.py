"""In a real browser, the history playback: the time slider moved with the keyboard puts the truck's
marker where it was stored at that moment and highlights the alarms open then; play runs to the end.
Both pages are photographed on a phone and a desktop (/tmp/playback-*.png, /tmp/reports-*.png)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser import sign_in_page
from tests.minesafe.test_reports_pages import stored_history

ABSENT, ACTIVE = re.compile(r"\babsent\b"), re.compile(r"\bactive\b")


@pytest.mark.browser
def test_the_slider_moves_the_trackers_and_highlights_the_alarms_open_then(page, database):
    ids = stored_history(database)
    sign_in_page(page, database, "gate", ["viewer"])
    page.goto("/minesafe/playback?lang=en")  # the last hour: 13:00–14:00 in Yekaterinburg
    truck, speeding = (
        page.locator("#pb-quarry-0"),
        page.locator(".playback-alarms .alarm", has_text="Speeding"),
    )
    run_over = page.locator(f"#pb-alarm-{ids['late_run_over']}")
    slider = page.get_by_role("slider", name="Time")
    expect(slider).to_be_visible()
    expect(truck).to_have_attribute("transform", "translate(1000,800)")  # its fix of 09:00, before the hour
    expect(page.locator("#pb-quarry-1")).to_have_class(ABSENT)
    expect(speeding).not_to_have_class(ACTIVE)

    slider.focus()
    page.keyboard.press("End")  # 14:00: the truck's fix of 13:30, truck 3 speeding since 13:50
    expect(page.locator("#moment-shown")).to_have_text("20/11/2026, 14:00:00")
    expect(truck).to_have_attribute("transform", "translate(800,900)")
    expect(speeding).to_have_class(ACTIVE)
    expect(speeding.locator("[data-now]")).to_be_visible()
    expect(run_over).not_to_have_class(ACTIVE)
    expect(page.locator("#pb-quarry-2")).to_have_count(0)  # no fix stored: no marker

    page.keyboard.press("Home")
    for _ in range(3):
        page.keyboard.press("ArrowRight")
    expect(slider).to_have_attribute("aria-valuetext", "20/11/2026, 13:00:03")
    expect(truck).to_have_attribute("transform", "translate(1000,800)")
    expect(speeding).not_to_have_class(ACTIVE)
    expect(page.locator("#pb-quarry-1")).to_have_class(ABSENT)
    for _ in range(17):
        page.keyboard.press("ArrowRight")  # 13:00:20: truck 2 reports for the first time
    expect(page.locator("#pb-quarry-1")).to_have_attribute("transform", "translate(300,250)")
    expect(page.locator("#pb-quarry-1")).not_to_have_class(ABSENT)
    expect(page.locator("[data-playback-status]")).to_contain_text("13:00:20, active alarms: 5")

    page.goto("/minesafe/playback?from=2026-11-20T13:09:55&until=2026-11-20T13:15&lang=en")
    slider = page.get_by_role("slider", name="Time")
    slider.focus()
    expect(run_over).not_to_have_class(ACTIVE)
    for _ in range(5):
        page.keyboard.press("ArrowRight")  # 13:10:00: the run-over raised, the truck's fix of that second
    expect(run_over).to_have_class(ACTIVE)
    expect(truck).to_have_class(re.compile(r"\bring-danger\b"))
    expect(truck).to_have_attribute("transform", "translate(1200,700)")

    page.get_by_role("button", name="Play").click()
    expect(page.get_by_role("button", name="Pause")).to_have_attribute("aria-pressed", "true")
    expect(slider).to_have_value("305", timeout=15_000)  # ×60: five seconds or so
    expect(page.get_by_role("button", name="Play")).to_have_attribute("aria-pressed", "false")

    for name, size in {"phone": (390, 844), "desktop": (1600, 900)}.items():
        page.set_viewport_size({"width": size[0], "height": size[1]})
        for view, path in (
            ("playback", "/minesafe/playback?lang=ru"),
            ("reports", "/minesafe/reports?lang=ru"),
        ):
            page.goto(path)
            if view == "playback":
                page.get_by_role("slider").focus()
                page.keyboard.press("End")
            page.screenshot(path=f"/tmp/{view}-{name}.png", full_page=True)
            page.screenshot(path=f"/tmp/{view}-{name}-top.png")
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= size[0], f"{view} on a {name}: the page scrolls sideways ({width} px)"
