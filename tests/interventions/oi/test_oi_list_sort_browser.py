"""Browser flow of sorting the interventions list: click a column header, the rows follow it and the
header says so (aria-sort); click again for the reverse; a filter keeps the chosen order."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser import sign_in_page
from tests.interventions.support import post_m1


@pytest.mark.browser
def test_operator_sorts_the_list_by_clicking_a_header(page, client, database, do_headers):
    second = post_m1(
        client, do_headers, "SORT-B", PM="FI-12345-0002", Debut_Inter="2026-11-20T08:00:00+01:00"
    )
    first = post_m1(client, do_headers, "SORT-A", PM="FI-12345-0001", Debut_Inter="2026-11-20T09:00:00+01:00")
    sign_in_page(page, database, "olive", ["operator"])
    page.goto("/interventions/oi/interventions?lang=en")
    rows = page.locator("tbody tr th[scope=row] a")
    expect(rows).to_have_text([first, second])  # newest start first
    expect(page.get_by_role("columnheader", name="Start")).to_have_attribute("aria-sort", "descending")

    page.get_by_role("link", name="PM", exact=True).click()
    page.wait_for_url("**sort=pm**")
    expect(page.get_by_role("columnheader", name="PM")).to_have_attribute("aria-sort", "ascending")
    expect(page.get_by_role("columnheader", name="Start")).not_to_have_attribute("aria-sort", "descending")
    expect(rows).to_have_text([first, second])

    page.get_by_role("link", name="PM", exact=True).click()
    page.wait_for_url("**sort=-pm**")
    expect(page.get_by_role("columnheader", name="PM")).to_have_attribute("aria-sort", "descending")
    expect(rows).to_have_text([second, first])

    page.get_by_role("combobox", name="Status").select_option("started")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url("**status=started**")
    assert "sort=-pm" in page.url
    expect(rows).to_have_text([second, first])
