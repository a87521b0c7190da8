"""Menus and the home page offer what the reader's roles open on pages this deployment has: no OC
pages on a deployment that is no OC, no link that leads to a 403; technicians go straight to their
phone page; the current page is marked; only translated languages are offered."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import expect

from tests.browser import sign_in_page
from tests.support import sign_in


def links(page: str) -> list[str]:
    nav = page.split('<nav aria-label="', 1)[1].split("</nav>", 1)[0]
    return re.findall(r'<a href="([^"]+)"', nav)


def test_an_oi_deployment_shows_no_oc_or_do_pages(client, database):
    sign_in(client, database, "olive", ["operator"])
    shown = links(client.get("/").text)
    assert "/interventions/oi/interventions" in shown and "/interventions/oi/deliveries" in shown
    assert not [url for url in shown if url.startswith(("/interventions/oc/", "/interventions/do/"))]


@pytest.mark.parametrize("role", ["viewer", "operator"])
def test_no_link_leads_to_a_403(client, database, role):
    sign_in(client, database, "vic", [role])
    for url in links(client.get("/").text):
        assert client.get(url).status_code == 200, url


def test_the_current_page_is_marked(client, database):
    sign_in(client, database, "olive", ["operator"])
    page = client.get("/interventions/oi/statistics").text
    assert '<a href="/interventions/oi/statistics" aria-current="page">' in page
    assert 'class="menu current"' in page


def test_a_technician_goes_straight_to_the_phone_page(web, database):
    sign_in(web, database, "tina", ["technician"])
    reply = web.get("/", follow_redirects=False)
    assert (reply.status_code, reply.headers["location"]) == (303, "/interventions/do/technician")


def test_someone_with_more_than_the_phone_page_gets_the_home_page(web, database):
    sign_in(web, database, "paul", ["technician", "operator"])
    assert web.get("/", follow_redirects=False).status_code == 200


def test_a_language_without_a_catalog_is_neither_offered_nor_pretended(app, oi_config):
    """German: no desk has a catalog for it (Russian has one since the minesafe desk's)."""
    with TestClient(app) as client:
        page = client.get("/login?lang=de").text
    assert '<html lang="de">' not in page and 'hreflang="de"' not in page
    assert 'hreflang="fr"' in page and 'hreflang="en"' in page


@pytest.mark.browser
def test_escape_closes_the_open_menu_and_returns_to_its_title(page, database, oi_config):
    sign_in_page(page, database, "olive", ["operator"])
    page.goto("/?lang=en")
    menu = page.locator("details.menu").first
    menu.locator("summary").click()
    expect(menu).to_have_attribute("open", "")
    page.keyboard.press("Escape")
    expect(menu).not_to_have_attribute("open", "")
    expect(menu.locator("summary")).to_be_focused()
