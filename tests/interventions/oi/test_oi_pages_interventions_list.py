"""The OI interventions list: filters by PM, local day, DO, status and flag; counts; languages; access."""

from __future__ import annotations

import re

import pytest

from tests.interventions.support import fail_deliveries, m5_line, post_m1, post_m3, post_m5
from tests.support import sign_in

LIST = "/interventions/oi/interventions"


def refs_on(html: str) -> set[str]:
    return set(re.findall(r'href="/interventions/oi/interventions/(OIAA-[0-9A-F-]+)"', html))


@pytest.fixture
def traffic(client, database, clock, do_headers, ocbb_headers):
    """Four interventions: two on each side of midnight UTC, one ended, one declared by OCBB."""
    late_evening = post_m1(client, do_headers, "EVE", Debut_Inter="2026-11-19T23:30:00+01:00")
    after_midnight = post_m1(client, do_headers, "NIGHT", Debut_Inter="2026-11-20T00:30:00+01:00")
    morning = post_m1(client, do_headers, "MORNING", PM="FI-12345-0002")
    post_m3(client, do_headers, "MORNING", PM="FI-12345-0002")
    by_ocbb = post_m1(client, ocbb_headers, "OTHER-DO", Code_DO="OCBB")
    return {"eve": late_evening, "night": after_midnight, "morning": morning, "ocbb": by_ocbb}


def test_list_shows_every_intervention_with_local_times(client, database, traffic):
    sign_in(client, database, "olive", ["viewer"])
    page = client.get(LIST, params={"lang": "en"})
    assert page.status_code == 200
    assert refs_on(page.text) == set(traffic.values())
    assert "19/11/2026,\u00a023:30" in page.text and "20/11/2026,\u00a000:30" in page.text
    assert "Interventions, newest start first (Paris time)" in page.text


def test_day_filter_uses_local_days_across_midnight_utc(client, database, traffic):
    sign_in(client, database, "olive", ["operator"])
    page = client.get(LIST, params={"since": "2026-11-20", "until": "2026-11-20"})
    assert refs_on(page.text) == {traffic["night"], traffic["morning"], traffic["ocbb"]}
    page = client.get(LIST, params={"until": "2026-11-19"})
    assert refs_on(page.text) == {traffic["eve"]}


def test_pm_do_and_status_filters(client, database, traffic):
    sign_in(client, database, "olive", ["operator"])
    assert refs_on(client.get(LIST, params={"pm": "FI-12345-0002"}).text) == {traffic["morning"]}
    assert refs_on(client.get(LIST, params={"do": "OCBB"}).text) == {traffic["ocbb"]}
    assert refs_on(client.get(LIST, params={"status": "ended"}).text) == {traffic["morning"]}
    started = refs_on(client.get(LIST, params={"status": "started"}).text)
    assert started == {traffic["eve"], traffic["night"], traffic["ocbb"]}


def test_flag_filter_and_translated_badge(client, database, traffic):
    sign_in(client, database, "olive", ["operator"])
    page = client.get(LIST, params={"flag": "late_m1", "lang": "en"})
    assert refs_on(page.text) == {traffic["eve"], traffic["night"]}
    assert "Late M1" in page.text and "M1 arrived long after the start (HD)." in page.text
    page = client.get(LIST, params={"flag": "late_m1", "lang": "fr"})
    assert "M1 tardif" in page.text and "Late M1" not in page.text


def test_counts_of_ocs_and_impacted_customers(client, database, clock, do_headers, ocbb_headers):
    ref = post_m1(client, do_headers, "COUNTED")
    post_m3(client, do_headers, "COUNTED")
    post_m5(client, ocbb_headers, ref, "OCBB", [m5_line("FI-7", "2026-11-20T10:30:00+01:00")])
    fail_deliveries(database, clock)
    sign_in(client, database, "olive", ["operator"])
    row = re.search(rf'<tr id="intervention-{ref}".*?</tr>', client.get(LIST).text, re.S)
    assert row is not None
    cells = re.findall(r"<td[^>]*>(.*?)</td>", row.group(0), re.S)
    assert cells[-2:] == ["2 / 0", "1"]


def test_list_is_paginated(client, database, do_headers):
    for number in range(53):
        post_m1(client, do_headers, f"MANY-{number}")
    sign_in(client, database, "olive", ["operator"])
    first = client.get(LIST, params={"do": "DOXX", "lang": "en"})
    assert len(refs_on(first.text)) == 50 and "Page 1 of 2" in first.text
    second = client.get(LIST, params={"do": "DOXX", "page": 2})
    assert len(refs_on(second.text)) == 3 and not refs_on(first.text) & refs_on(second.text)
    assert "do=DOXX" in first.text.split('rel="next"')[0].rsplit("href=", 1)[1]


def test_french_page(client, database, traffic):
    sign_in(client, database, "olive", ["operator"])
    page = client.get(LIST, params={"lang": "fr"})
    assert '<html lang="fr">' in page.text
    assert "Filtrer" in page.text and "Début" in page.text and "en cours" in page.text
    assert "19/11/2026\u00a023:30" in page.text and "20/11/2026\u00a000:30" in page.text  # never wrapped
    assert "Interventions, les plus récentes d’abord (heure de Paris)" in page.text


def test_bad_date_names_the_field(client, database, traffic):
    sign_in(client, database, "olive", ["operator"])
    page = client.get(LIST, params={"since": "20/11/2026", "lang": "en"})
    assert page.status_code == 400
    assert '<a href="#since">Enter a date as YYYY-MM-DD.</a>' in page.text
    assert 'id="since" name="since" type="date" value="20/11/2026"' in page.text


def test_unknown_flag_and_reversed_period_are_refused(client, database, traffic):
    sign_in(client, database, "olive", ["operator"])
    page = client.get(
        LIST, params={"flag": "nope", "since": "2026-11-20", "until": "2026-11-19", "lang": "en"}
    )
    assert page.status_code == 400
    assert 'href="#flag"' in page.text and 'href="#until"' in page.text


def test_outsider_is_sent_to_login(client):
    reply = client.get(LIST, follow_redirects=False)
    assert reply.status_code == 303 and reply.headers["location"].startswith("/login?next=")


def test_technician_is_refused(client, database):
    sign_in(client, database, "tech", ["technician"])
    assert client.get(LIST).status_code == 403
