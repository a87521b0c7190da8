"""In real browsers: the dispatch room says sound is off until someone presses the button (with the
keyboard here), then a new DANGER alarm stored afterwards rings once (the alarms already on the page do
not); the muster page follows a tracker into a zone without a reload. Dispatch (with its masts), muster
and gatehouse are photographed on a phone and a desktop (/tmp/sound-*.png)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import expect

from tests.browser import sign_in_page
from tests.minesafe.test_dispatch_pages import SITE, SITES, T0, report, stored
from tests.support import run_async
from tocsin.minesafe import store
from tocsin.minesafe.ingest import simulated
from tocsin.minesafe.ingest.recorder import Recorder
from tocsin.minesafe.model import AlarmEvent, Level
from tocsin.minesafe.models import Mast

LIVE_ON = "This page updates by itself."
NOW = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


def masts_heard(database) -> None:
    """Two masts heard lately, the third silent for two minutes."""
    with database.session() as db:
        for mast, age in zip(SITE.masts, (5, 9, 120), strict=True):
            gateway = simulated.gateway_eui(SITE, mast.id)
            row = Mast(gateway=gateway, site=SITE.name, online=True, updated_at=NOW)
            row.last_heard, row.last_rssi, row.last_snr = NOW - timedelta(seconds=age), -91.0, 6.5
            db.add(row)


@pytest.mark.browser
def test_armed_sound_rings_for_a_new_danger_alarm(page, base_url, database):
    stored(database)  # a run-over danger and an SOS already open: they do not ring
    sign_in_page(page, database, "op", ["operator"])
    page.goto("/minesafe/?lang=en")
    expect(page.locator("[data-live-status]")).to_have_text(LIVE_ON, timeout=15_000)
    control, button = page.locator("#sound-control"), page.locator("#sound-arm")
    expect(button).to_have_text("Sound is off — press to arm")
    expect(control).to_have_attribute("data-sound-state", "off")
    expect(button).to_have_attribute("aria-pressed", "false")

    button.focus()
    page.keyboard.press("Enter")
    expect(control).to_have_attribute("data-sound-state", "on")
    expect(page.locator("#sound-note")).to_have_text(
        "Sound is armed: a new danger alarm or SOS rings on this computer."
    )
    expect(button).to_have_attribute("aria-pressed", "true")
    assert page.evaluate("window.tocsinSoundsPlayed") == 0

    with database.session() as db:
        event = AlarmEvent(t=T0 + 30, type="collision", level=Level.DANGER, ids=("quarry:3", "quarry:4"))
        store.save_events(db, [event], site=SITE.name, now=datetime.fromtimestamp(T0 + 30, UTC))
    expect(page.locator(".alarm", has_text="Collision danger")).to_be_visible(timeout=15_000)
    expect(control).to_have_attribute("data-sounds-played", "1", timeout=15_000)
    assert page.evaluate("window.tocsinSoundsPlayed") == 1

    with database.session() as db:  # a warning does not ring
        event = AlarmEvent(t=T0 + 40, type="overspeed", level=Level.WARNING, ids=("quarry:1",))
        store.save_events(db, [event], site=SITE.name, now=datetime.fromtimestamp(T0 + 40, UTC))
    expect(page.locator(".alarm", has_text="Speeding")).to_be_visible(timeout=15_000)
    assert page.evaluate("window.tocsinSoundsPlayed") == 1

    page.reload()  # the tab remembers; the browser may want another press, and the page says which
    expect(control).not_to_have_attribute("data-sound-state", "none")
    if control.get_attribute("data-sound-state") == "off":
        expect(page.locator("#sound-note")).to_contain_text("needs another press")


@pytest.mark.browser
def test_the_muster_follows_a_tracker_into_a_zone(page, base_url, database):
    stored(database)
    masts_heard(database)
    sign_in_page(page, database, "gate", ["viewer"])
    page.goto("/minesafe/muster?lang=en")
    expect(page.locator("[data-live-status]")).to_have_text(LIVE_ON, timeout=15_000)
    page.evaluate("window.notReloaded = true")
    blast = page.locator("#zone-blast-area-bench-1-count td[data-people]")
    expect(blast).to_have_text("0")
    expect(page.locator("#total-people")).to_have_text("2")  # surveyor and blaster; the fitter is stale

    recorder = Recorder(database, SITES, clock=lambda: NOW)
    recorder.add_reports([report(11, T0 + 10, 1400.0, 900.0, 1.0)])  # the surveyor walks into the blast area
    run_async(recorder.flush())
    expect(blast).to_have_text("1", timeout=15_000)
    expect(page.locator("#zone-blast-area-bench-1-list-quarry-11")).to_contain_text("surveyor")
    expect(page.locator("#total-people")).to_have_text("2")
    assert page.evaluate("window.notReloaded") is True

    pages = {"dispatch": "/minesafe/?lang=ru", "muster": "/minesafe/muster?lang=ru"}
    pages["gatehouse"] = "/minesafe/gatehouse?lang=ru"
    for name, size in {"phone": (390, 844), "desktop": (1600, 900)}.items():
        page.set_viewport_size({"width": size[0], "height": size[1]})
        for what, path in pages.items():
            page.goto(path)
            page.screenshot(path=f"/tmp/sound-{what}-{name}.png", full_page=True)
            page.screenshot(path=f"/tmp/sound-{what}-{name}-top.png")
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= size[0], f"{what} on a {name}: the page scrolls sideways ({width} px)"
    page.emulate_media(media="print")
    page.goto("/minesafe/muster?lang=ru")
    page.screenshot(path="/tmp/sound-muster-print.png", full_page=True)
    expect(page.locator(".top")).to_be_hidden()
