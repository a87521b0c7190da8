"""In a real browser, the zone editor: an operator draws a zone by clicking four points on the map, names
it, saves it and sees it on the dispatch map; another zone is typed with the keyboard alone through the
list of points. The editor is photographed on a phone and a desktop (/tmp/zones-*.png)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from tests.browser import sign_in_page, wait_for_script
from tests.minesafe.test_zone_editor import png
from tocsin.minesafe.models import ZoneRow
from tocsin.minesafe.site import load_example_site

SITE = load_example_site()
CORNERS = [(200.0, 600.0), (400.0, 600.0), (400.0, 750.0), (200.0, 750.0)]


def click_site_point(page, x: float, y: float) -> None:
    """Click the map at site metres (x, y), placed on the screen by the SVG's own transform."""
    at = page.evaluate(
        """([x, y]) => {
          const map = document.getElementById("zone-map");
          const point = map.createSVGPoint();
          point.x = x;
          point.y = Number(map.dataset.height) - y;
          const screen = point.matrixTransform(map.getScreenCTM());
          return [screen.x, screen.y];
        }""",
        [x, y],
    )
    page.mouse.click(at[0], at[1])


@pytest.mark.browser
def test_an_operator_draws_a_zone_by_clicking_the_map_and_sees_it_on_the_dispatch_map(page, database):
    sign_in_page(page, database, "op", ["operator"])
    page.goto("/minesafe/zones?lang=en")
    expect(page.get_by_role("heading", name="Hazard zones")).to_be_visible()
    wait_for_script(
        page, "document.getElementById('zone-map').dataset.points === '0'", what="the editor's script"
    )
    for x, y in CORNERS:
        click_site_point(page, x, y)
    expect(page.locator("#zone-map")).to_have_attribute("data-points", "4")
    expect(page.locator("#draft-status")).to_have_text("4 points")
    box = page.locator("#zone-map").bounding_box()
    assert box is not None
    pixel = SITE.grid.width_m / box["width"]  # a click lands on a whole pixel: within one of the point
    typed = page.locator("#polygon").input_value().splitlines()
    assert len(typed) == 4
    for line, (x, y) in zip(typed, CORNERS, strict=True):
        got_x, got_y = (float(v) for v in line.split())
        assert abs(got_x - x) <= pixel and abs(got_y - y) <= pixel, (line, x, y, pixel)
    page.get_by_label("Name").fill("Clicked pit edge")
    page.get_by_label("Kind").select_option("pit_edge")
    page.get_by_role("button", name="Save the zone").click()
    expect(page.locator("[role=status]")).to_have_text("Zone Clicked pit edge saved.")
    expect(page.locator("#zone-map [data-zone='Clicked pit edge']")).to_have_count(1)

    page.goto("/minesafe/?lang=en")
    drawn = page.locator(".site-map polygon.zone-drawn[data-zone='Clicked pit edge']")
    expect(drawn).to_have_count(1)
    with database.session() as db:
        row = db.scalars(select(ZoneRow)).one()
        assert (row.name, row.kind, len(row.polygon), row.created_by) == (
            "Clicked pit edge",
            "pit_edge",
            4,
            "op",
        )


@pytest.mark.browser
def test_a_keyboard_user_types_the_points_and_saves_and_the_editor_is_photographed(page, database):
    sign_in_page(page, database, "op", ["operator"])
    page.goto("/minesafe/zones?lang=ru")
    page.locator("#name").focus()
    page.keyboard.type("Typed blast")
    page.keyboard.press("Tab")
    expect(page.locator("#kind")).to_be_focused()
    page.keyboard.press("Tab")
    expect(page.locator("#polygon")).to_be_focused()
    for line in ("1200 300", "1300 300", "1300 380"):
        page.keyboard.type(line)
        page.keyboard.press("Enter")
    page.keyboard.type("1200 380")
    expect(page.locator("#zone-map")).to_have_attribute("data-points", "4")  # drawn as typed
    page.locator("#speed-all").focus()
    page.keyboard.type("15")
    page.locator("#active_from").fill("2026-11-21T12:00")  # a window ending before it starts: refused
    page.locator("#active_until").fill("2026-11-21T10:00")
    save = page.get_by_role("button", name="Сохранить зону")
    save.focus()
    page.keyboard.press("Enter")
    expect(page.locator(".error-summary")).to_contain_text("Конец времени действия должен быть позже начала")
    expect(page.locator("#name")).to_have_value("Typed blast")
    expect(page.locator("#polygon")).to_have_value("1200 300\n1300 300\n1300 380\n1200 380")
    page.locator(".error-summary a").first.focus()
    page.keyboard.press("Enter")
    expect(page.locator("#active_until")).to_be_focused()
    page.locator("#active_until").fill("")
    page.locator("#active_from").fill("")
    page.get_by_role("button", name="Сохранить зону").focus()
    page.keyboard.press("Enter")
    expect(page.locator("[role=status]")).to_have_text("Зона Typed blast сохранена.")
    with database.session() as db:
        row = db.scalars(select(ZoneRow)).one()
        assert row.polygon == [[1200.0, 300.0], [1300.0, 300.0], [1300.0, 380.0], [1200.0, 380.0]]
        assert row.speed_limits == {"*": 15.0} and row.active_until is None

    for name, (width, height) in {"phone": (390, 844), "desktop": (1600, 900)}.items():
        page.set_viewport_size({"width": width, "height": height})
        page.goto("/minesafe/zones?lang=ru")
        page.screenshot(path=f"/tmp/zones-{name}.png", full_page=True)
        page.screenshot(path=f"/tmp/zones-{name}-top.png")
        scrolled = page.evaluate("document.documentElement.scrollWidth")
        assert scrolled <= width, f"{name}: the page scrolls sideways ({scrolled} px)"


@pytest.mark.browser
def test_an_uploaded_orthophoto_lies_under_the_dispatch_map_and_can_be_hidden(
    page, database, clamd, tmp_path
):
    picture = tmp_path / "survey.png"
    picture.write_bytes(png(250, 150))
    sign_in_page(page, database, "op", ["operator"])
    page.goto("/minesafe/zones?lang=en")
    page.get_by_label("PNG or JPEG file").set_input_files(str(picture))
    page.get_by_role("button", name="Upload the orthophoto").click()
    expect(page.locator("[role=status]")).to_have_text("The orthophoto is saved.")
    expect(page.locator("#zone-map image.orthophoto")).to_have_count(1)
    page.goto("/minesafe/?lang=en")
    image = page.locator(".site-map image.orthophoto")
    expect(image).to_be_visible()
    loaded = (
        "fetch(document.querySelector('.site-map image.orthophoto').getAttribute('href')).then(r => r.status)"
    )
    assert page.evaluate(loaded) == 200
    page.set_viewport_size({"width": 1600, "height": 900})
    page.screenshot(path="/tmp/zones-dispatch-orthophoto.png")
    toggle = page.get_by_label("Show the aerial photo under the map")
    toggle.focus()
    page.keyboard.press("Space")
    expect(image).to_be_hidden()
    page.keyboard.press("Space")
    expect(image).to_be_visible()
