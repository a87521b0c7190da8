"""The OI lists (interventions, rejections, failed deliveries) and the OC list sort by a column header:
aria-sort on the sorted column, the sort kept in the pager and export links, ties broken by the row's
id, and a bad ``sort`` answered 400 with the field named (never 500)."""

from __future__ import annotations

import csv
import io
import re

import pytest

from tests.interventions.support import add_received, apply_oc_config, fail_deliveries, m1, post_m1
from tests.support import sign_in

LIST = "/interventions/oi/interventions"
EXPORT = "/interventions/oi/interventions.csv"


def refs_in_order(html: str) -> list[str]:
    return re.findall(
        r'<th scope="row"[^>]*><a href="/interventions/oi/interventions/(OIAA-[0-9A-F-]+)"', html
    )


@pytest.fixture
def three(client, do_headers):
    """Three interventions on three PMs, started in an order that is not the PMs' order."""
    return {
        "b": post_m1(client, do_headers, "S-B", PM="FI-12345-0002", Debut_Inter="2026-11-20T08:00:00+01:00"),
        "a": post_m1(client, do_headers, "S-A", PM="FI-12345-0001", Debut_Inter="2026-11-20T09:00:00+01:00"),
        "c": post_m1(client, do_headers, "S-C", PM="FI-12345-0003", Debut_Inter="2026-11-20T07:00:00+01:00"),
    }


def test_default_order_is_newest_start_first_marked_on_the_start_column(client, database, three):
    sign_in(client, database, "olive", ["viewer"])
    page = client.get(LIST, params={"lang": "en"}).text
    assert refs_in_order(page) == [three["a"], three["b"], three["c"]]
    assert re.search(
        r'<th scope="col" aria-sort="descending"><a class="sort" href="\?sort=start">Start', page
    )
    assert page.count("aria-sort=") == 1


def test_a_column_sorts_both_ways(client, database, three):
    sign_in(client, database, "olive", ["viewer"])
    up = client.get(LIST, params={"sort": "pm", "lang": "en"}).text
    assert refs_in_order(up) == [three[k] for k in "abc"]
    assert '<th scope="col" aria-sort="ascending"><a class="sort" href="?sort=-pm">PM' in up
    down = client.get(LIST, params={"sort": "-pm"}).text
    assert refs_in_order(down) == [three[k] for k in "cba"]
    assert 'aria-sort="descending"><a class="sort" href="?sort=pm">' in down


def test_ties_are_broken_by_the_row_id(client, database, do_headers):
    same_pm = [post_m1(client, do_headers, f"TIE-{n}") for n in range(4)]
    sign_in(client, database, "olive", ["viewer"])
    assert refs_in_order(client.get(LIST, params={"sort": "pm"}).text) == same_pm
    assert refs_in_order(client.get(LIST, params={"sort": "-pm"}).text) == same_pm[::-1]


def test_the_sort_is_kept_in_pager_filters_and_export_links(client, database, do_headers):
    for number in range(52):
        post_m1(client, do_headers, f"MANY-{number}")
    sign_in(client, database, "olive", ["viewer"])
    page = client.get(LIST, params={"sort": "reference", "do": "DOXX", "lang": "en"}).text
    assert 'href="?do=DOXX&amp;sort=reference&amp;page=2" rel="next"' in page
    assert '<option value="reference" selected>Ref_Interv_OI, ascending</option>' in page
    assert f'href="{EXPORT}?do=DOXX&amp;sort=reference&amp;lang=en"' in page
    # a header link keeps the filters and starts again from the first page
    assert 'href="?do=DOXX&amp;sort=-reference">Ref_Interv_OI' in page


def test_the_export_follows_the_lists_order(client, database, three):
    sign_in(client, database, "olive", ["viewer"])
    reply = client.get(EXPORT, params={"sort": "-pm", "lang": "en"})
    rows = list(csv.reader(io.StringIO(reply.content.decode("utf-8-sig"))))
    refs = [row[0] for row in rows if row and row[0].startswith("OIAA-")]
    assert refs == [three[k] for k in "cba"]
    assert client.get(EXPORT, params={"sort": "id;drop"}).status_code == 400


@pytest.mark.parametrize("hostile", ["id;drop", "pm DESC", "debut", "-" * 3, "x" * 5000, "<script>"])
def test_a_bad_sort_is_refused_naming_the_field(client, database, three, hostile):
    sign_in(client, database, "olive", ["viewer"])
    page = client.get(LIST, params={"sort": hostile, "lang": "en"})
    assert page.status_code == 400
    assert (
        '<a href="#sort">Sort by one of the list&#39;s columns (reference, do_reference, do, pm, start, end)'
        in page.text
    )
    assert "<script>" not in page.text.split("<main", 1)[1]
    # the summary's link lands on the form's order field, marked invalid, the list's default chosen
    assert '<select id="sort" name="sort" aria-invalid="true" aria-describedby="sort-error">' in page.text
    assert (
        '<option value="">Default order</option>' in page.text
        and " selected>" not in page.text.split('id="sort"', 1)[1].split("</select>", 1)[0]
    )


def test_a_bad_sort_is_explained_in_french(client, database, three):
    sign_in(client, database, "olive", ["viewer"])
    page = client.get(LIST, params={"sort": "nope", "lang": "fr"})
    assert page.status_code == 400 and "Triez selon l’une des colonnes de la liste" in page.text


def test_while_searching_best_matches_come_first_unless_a_column_is_chosen(client, database, three):
    sign_in(client, database, "olive", ["viewer"])
    searched = client.get(LIST, params={"q": "FI-12345", "lang": "en"}).text
    assert "Best matches first." in searched and "aria-sort=" not in searched
    sorted_search = client.get(LIST, params={"q": "FI-12345", "sort": "-pm", "lang": "en"}).text
    assert refs_in_order(sorted_search) == [three[k] for k in "cba"]
    assert 'aria-sort="descending"' in sorted_search


def test_rejections_sort_by_sender(client, database, do_headers, ocbb_headers):
    client.post("/v1/intervention_DO", json=m1("RJ-1", PM="FI-99999-0009"), headers=do_headers)
    client.post(
        "/v1/intervention_DO", json=m1("RJ-2", PM="FI-99999-0009", Code_DO="OCBB"), headers=ocbb_headers
    )
    sign_in(client, database, "olive", ["viewer"])
    page = client.get("/interventions/oi/rejections", params={"sort": "-sender", "lang": "en"}).text
    senders = re.findall(r"</td><td>/v1/[^<]+</td><td>(\w+)</td>", page)
    assert senders == ["OCBB", "DOXX"]
    assert 'aria-sort="descending"><a class="sort" href="?sort=sender">Sender' in page
    bad = client.get("/interventions/oi/rejections", params={"sort": "id;drop"})
    assert bad.status_code == 400 and 'href="#sort"' in bad.text


def test_the_order_field_offers_each_column_both_ways_in_french(client, database, three):
    sign_in(client, database, "olive", ["viewer"])
    page = client.get(LIST, params={"sort": "-pm", "lang": "fr"}).text
    assert '<label for="sort">Ordre</label>' in page
    assert '<option value="pm">PM, croissant</option>' in page
    assert '<option value="-pm" selected>PM, décroissant</option>' in page


def test_failed_deliveries_sort_by_partner(client, database, clock, do_headers):
    post_m1(client, do_headers, "FD-1")
    fail_deliveries(database, clock)
    sign_in(client, database, "olive", ["operator"])
    page = client.get("/interventions/oi/deliveries", params={"sort": "-partner", "lang": "en"}).text
    partners = re.findall(r'data-label="Partner">(\w+)</td>', page.split('id="failed-title"')[1])
    assert partners == ["OCCC", "OCBB"]
    assert 'aria-sort="descending"><a class="sort" href="?sort=partner">Partner' in page
    assert client.get("/interventions/oi/deliveries", params={"sort": "url"}).status_code == 400


def test_the_oc_list_sorts_by_pm(app, database, clock):
    from fastapi.testclient import TestClient

    apply_oc_config(database, clock())
    add_received(database, ref="OIAA-Z", pm="FI-12345-0001")
    add_received(database, ref="OIAA-Y", pm="FI-12345-0002")
    with TestClient(app) as web:
        sign_in(web, database, "victor", ["viewer"])
        page = web.get("/interventions/oc/received", params={"sort": "-pm", "lang": "en"}).text
        assert re.findall(r">(OIAA-[YZ])</a>", page) == ["OIAA-Y", "OIAA-Z"]
        assert 'aria-sort="descending"><a class="sort" href="?sort=pm">PM' in page
        assert "(Paris time)" in page
        bad = web.get("/interventions/oc/received", params={"sort": "pm;drop", "lang": "en"})
        assert bad.status_code == 400 and 'href="#sort"' in bad.text
