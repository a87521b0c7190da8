"""In a real browser, the gatehouse's charging station: an operator hands a tracker out and takes it back
with the keyboard alone (a refusal lands on the error summary, the field named); the registry and the
gatehouse are photographed on a phone and a wall screen (/tmp/registry-*.png, /tmp/gatehouse-*.png)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from playwright.sync_api import expect

from tests.browser import sign_in_page
from tests.minesafe.test_dispatch_pages import SITES, T0, stored
from tests.minesafe.test_registry_and_checkout import phone_reports, radio
from tocsin.minesafe import checkouts, store

SURVEYOR = "quarry:11"


def tab_to(page, selector: str, *, limit: int = 200) -> None:
    """Press Tab until the element ``selector`` has the focus (a keyboard user's way there)."""
    for _ in range(limit):
        if page.evaluate(f"document.activeElement === document.querySelector({selector!r})"):
            return
        page.keyboard.press("Tab")
    raise AssertionError(f"{selector} never took the focus")


def choose(page, selector: str, text: str) -> None:
    """Pick an option of a focused select by typing its first letters, as a keyboard user does."""
    tab_to(page, selector)
    page.keyboard.type(text)


@pytest.mark.browser
def test_an_operator_hands_a_tracker_out_and_back_with_the_keyboard(page, database):
    stored(database)
    with database.session() as db:
        store.save_reports(db, [radio(11, T0, "first_empty"), radio(13, T0, "both_empty")], SITES)
        store.save_reports(db, phone_reports(57.0, T0), SITES)
        night = datetime(2026, 11, 20, 2, tzinfo=UTC)  # 07:00 local: the night shift of the 19th
        checkouts.check_out(db, tracker="quarry:16", person="Сидоров А.", by="night", now=night)
    sign_in_page(page, database, "op", ["operator"])
    page.goto("/minesafe/gatehouse?lang=ru")
    expect(page.locator("#missing")).to_contain_text("Сидоров А.")

    tab_to(page, "#out-person")  # nothing chosen yet: both fields named
    page.keyboard.press("Enter")
    expect(page.locator("#error-summary")).to_contain_text("Выберите трекер.")
    expect(page.locator("#error-summary")).to_contain_text("Введите имя того, кто берёт трекер.")
    page.locator("#error-summary a[href='#out-tracker']").focus()
    page.keyboard.press("Enter")
    expect(page.locator("#out-tracker")).to_be_focused()

    choose(page, "#out-tracker", "surveyor")
    expect(page.locator("#out-tracker")).to_have_value(SURVEYOR)
    page.keyboard.press("Tab")
    expect(page.locator("#out-person")).to_be_focused()
    page.keyboard.type("Иванов Пётр")
    page.keyboard.press("Enter")
    expect(page.locator("#done")).to_have_text("Трекер surveyor выдан: Иванов Пётр.")
    expect(page.locator("#shift-checkouts")).to_contain_text("Иванов Пётр")
    expect(page.locator("#shift-checkouts")).to_contain_text("на руках")

    choose(page, "#in-tracker", "surveyor")
    expect(page.locator("#in-tracker")).to_have_value(SURVEYOR)
    page.keyboard.press("Tab")
    page.keyboard.type("сдан без замечаний")
    page.keyboard.press("Enter")
    expect(page.locator("#done")).to_have_text("Трекер surveyor принят, сдал: Иванов Пётр.")
    row = page.locator("#shift-checkouts tr", has_text="Иванов Пётр")
    expect(row).to_contain_text("Первый элемент разряжен")
    expect(row).to_contain_text("сдан без замечаний")

    shots = {"gatehouse": "/minesafe/gatehouse?lang=ru", "registry": "/minesafe/trackers?lang=ru"}
    for name, size in {"phone": (390, 844), "desktop": (1600, 900)}.items():
        page.set_viewport_size({"width": size[0], "height": size[1]})
        for page_name, path in shots.items():
            page.goto(path)
            page.screenshot(path=f"/tmp/{page_name}-{name}.png", full_page=True)
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= size[0], f"{page_name} on a {name}: the page scrolls sideways ({width} px)"
    page.goto(f"/minesafe/trackers/{SURVEYOR}/edit?lang=ru")
    page.screenshot(path="/tmp/registry-edit-desktop.png", full_page=True)
