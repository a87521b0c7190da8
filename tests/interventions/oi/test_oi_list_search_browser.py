"""Browser flow of the list's search box: type a code's first characters, get the matching
interventions with the match marked, narrow with a filter, keep the search across pages, and
download what is shown."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser import sign_in_page
from tests.interventions.support import post_m1


def nature(pbo: str) -> list[dict]:
    return [{"nature": 1, "PBO": pbo, "PTO": "FI-1234-5678"}]


@pytest.mark.browser
def test_operator_searches_the_list_by_a_pbo_prefix(page, client, database, do_headers, ocbb_headers):
    wanted = post_m1(client, do_headers, "SEARCH-1", Nature_PBO_PTO=nature("PT0012345"))
    by_oc = post_m1(client, ocbb_headers, "SEARCH-2", Code_DO="OCBB", Nature_PBO_PTO=nature("PT0012399"))
    other = post_m1(client, do_headers, "SEARCH-3", Nature_PBO_PTO=nature("PT0099999"))

    sign_in_page(page, database, "olive", ["operator"])
    page.goto("/interventions/oi/interventions?lang=en")
    expect(page.get_by_role("link", name=other)).to_be_visible()

    search = page.get_by_role("searchbox", name="Search")
    search.fill("PT0012")
    search.press("Enter")
    page.wait_for_url("**q=PT0012**")
    expect(page.get_by_role("link", name=wanted)).to_be_visible()
    expect(page.get_by_role("link", name=by_oc)).to_be_visible()
    expect(page.get_by_role("link", name=other)).to_have_count(0)
    expect(page.locator("mark", has_text="PT0012").first).to_be_visible()
    expect(page.get_by_text("2 interventions found")).to_be_visible()

    page.get_by_label("DO", exact=True).select_option("OCBB")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url("**do=OCBB**")
    expect(page.get_by_role("searchbox", name="Search")).to_have_value("PT0012")
    expect(page.get_by_role("link", name=by_oc)).to_be_visible()
    expect(page.get_by_role("link", name=wanted)).to_have_count(0)

    with page.expect_download() as download:
        page.get_by_role("link", name="XLSX").click()
    assert download.value.suggested_filename.endswith(".xlsx")


@pytest.mark.browser
def test_an_empty_search_is_explained_next_to_the_box(page, client, database, do_headers):
    post_m1(client, do_headers, "SEARCH-1")
    sign_in_page(page, database, "olive", ["operator"])
    page.goto("/interventions/oi/interventions?lang=en")
    page.get_by_role("searchbox", name="Search").fill('"*"')
    page.get_by_role("searchbox", name="Search").press("Enter")
    expect(page.locator("#q-error")).to_have_text("Type at least one letter or digit to search.")
    expect(page.get_by_role("link", name="Type at least one letter or digit to search.")).to_be_visible()
