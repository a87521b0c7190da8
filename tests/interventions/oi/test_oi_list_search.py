"""The OI interventions list searches references, PM, PBO and PTO codes (whole, without dashes or by
their first characters), together with the filters and the pager; matches are marked; the rules keep
the index in step; hostile input is answered, never a 500."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from tests.interventions.support import post_m1, post_m3
from tests.support import sign_in
from tocsin.interventions import jobs
from tocsin.interventions.oi.search import INTERVENTIONS

LIST = "/interventions/oi/interventions"


def refs_on(html: str) -> list[str]:
    return re.findall(r'href="/interventions/oi/interventions/(OIAA-[0-9A-F-]+)"', html)


def nature(pbo: str, pto: str) -> list[dict]:
    return [{"nature": 1, "PBO": pbo, "PTO": pto}]


@pytest.fixture
def works(client, database, do_headers):
    """Three interventions with distinct DO references, PMs and lines."""
    return {
        "alpha": post_m1(
            client, do_headers, "REF-ALPHA-001", Nature_PBO_PTO=nature("PT0012345", "FI-1234-5678")
        ),
        "beta": post_m1(
            client,
            do_headers,
            "REF-BETA-002",
            PM="FI-12345-0002",
            Nature_PBO_PTO=nature("PT0099999", "FI-9999-0001"),
        ),
        "gamma": post_m1(client, do_headers, "OTHER-003", Nature_PBO_PTO=nature("PT0055555", "FI-5555-0003")),
    }


def found(client, q: str, **params) -> list[str]:
    page = client.get(LIST, params={"q": q, "lang": "en", **params})
    assert page.status_code == 200, page.text
    return refs_on(page.text)


def test_references_match_whole_or_by_their_first_characters(client, database, works):
    sign_in(client, database, "olive", ["viewer"])
    assert found(client, "REF-ALPHA-001") == [works["alpha"]]
    assert sorted(found(client, "REF-")) == sorted([works["alpha"], works["beta"]])
    assert found(client, "refbeta002") == [works["beta"]]
    assert found(client, works["gamma"]) == [works["gamma"]]
    assert sorted(found(client, "OIAA-2026")) == sorted(works.values())


def test_pm_pbo_and_pto_codes_are_searched(client, database, works):
    sign_in(client, database, "olive", ["viewer"])
    assert found(client, "FI-12345-0002") == [works["beta"]]
    assert found(client, "PT0012") == [works["alpha"]]
    assert found(client, "PT0099999") == [works["beta"]]
    assert found(client, "FI-5555") == [works["gamma"]]
    assert found(client, "nothing-like-this") == []


def test_matches_are_marked_in_the_list(client, database, works):
    sign_in(client, database, "olive", ["viewer"])
    page = client.get(LIST, params={"q": "PT0012 REF-ALPHA", "lang": "en"}).text
    assert "<mark>REF-ALPHA</mark>-001" in page
    assert "PBO <mark>PT0012</mark>345" in page and "Best matches first." in page


def test_search_combines_with_filters_and_the_pager(client, database, do_headers, ocbb_headers):
    for number in range(53):
        post_m1(
            client, do_headers, f"BULK-{number}", Nature_PBO_PTO=nature("PT0077777", f"FI-7777-{number:04d}")
        )
    post_m1(
        client, ocbb_headers, "BULK-OC", Code_DO="OCBB", Nature_PBO_PTO=nature("PT0077777", "FI-7777-9999")
    )
    sign_in(client, database, "olive", ["operator"])
    first = client.get(LIST, params={"q": "PT0077777", "do": "DOXX", "lang": "en"})
    assert len(refs_on(first.text)) == 50 and "54 interventions found" not in first.text
    assert "53 interventions found" in first.text and "Page 1 of 2" in first.text
    next_link = first.text.split('rel="next"')[0].rsplit("href=", 1)[1]
    assert "q=PT0077777" in next_link and "do=DOXX" in next_link
    second = client.get(LIST, params={"q": "PT0077777", "do": "DOXX", "page": 2})
    assert len(refs_on(second.text)) == 3 and not set(refs_on(first.text)) & set(refs_on(second.text))
    assert len(found(client, "PT0077777", do="OCBB")) == 1


def test_a_query_without_letters_or_digits_names_the_field(client, database, works):
    sign_in(client, database, "olive", ["operator"])
    page = client.get(LIST, params={"q": '*** "" (', "lang": "en"})
    assert page.status_code == 400
    assert '<a href="#q">Type at least one letter or digit to search.</a>' in page.text
    page = client.get(LIST, params={"q": "x" * 201, "lang": "fr"})
    assert page.status_code == 400 and "Saisissez au plus 200 caractères." in page.text


@pytest.mark.parametrize(
    "q",
    [
        '"',
        "NEAR(",
        "*",
        "a OR b",
        "PT00*",
        "\x00",
        "%00",
        "x" * 200,
        "'; DROP TABLE iv_intervention; --",
        "<script>alert(1)</script>",
        "a & b | !c <-> d:*",
        "🔥",
    ],
)
def test_hostile_queries_never_answer_500(client, database, works, q):
    sign_in(client, database, "olive", ["operator"])
    page = client.get(LIST, params={"q": q, "lang": "en"})
    assert page.status_code in (200, 400)
    assert "<script>alert(1)</script>" not in page.text


def test_a_modified_declaration_is_found_by_its_new_values(client, database, do_headers):
    ref = post_m1(client, do_headers, "MOVED", Nature_PBO_PTO=nature("PT0011111", "FI-1111-0001"))
    post_m3(
        client, do_headers, "MOVED", PM="FI-12345-0002", Nature_PBO_PTO=nature("PT0022222", "FI-2222-0002")
    )
    sign_in(client, database, "olive", ["operator"])
    assert found(client, "PT0022222") == [ref] and found(client, "FI-12345-0002") == [ref]
    assert found(client, "PT0011111") == [] and found(client, "FI-12345-0001") == []


def test_the_retention_purge_forgets_what_it_deletes(client, database, clock, works):
    with database.session() as db:
        assert db.scalar(text(f"SELECT count(*) FROM {INTERVENTIONS.table}")) == 3
        jobs.purge_expired(db=db, now=clock().replace(year=2028))
    with database.session() as db:
        assert db.scalar(text(f"SELECT count(*) FROM {INTERVENTIONS.table}")) == 0


def test_rebuild_command_indexes_existing_rows(client, database, works, monkeypatch):
    from tocsin.cli import app

    with database.session() as db:
        db.execute(text(f"DELETE FROM {INTERVENTIONS.table}"))
    sign_in(client, database, "olive", ["operator"])
    assert found(client, "REF-ALPHA") == []
    monkeypatch.setenv("TOCSIN_DATABASE_URL", database.url)
    result = CliRunner().invoke(app, ["search", "rebuild"])
    assert result.exit_code == 0, result.output
    assert "interventions" in result.output and "3 row(s) indexed" in result.output
    assert found(client, "REF-ALPHA") == [works["alpha"]]
    bad = CliRunner().invoke(app, ["search", "rebuild", "--index", "nonesuch"])
    assert bad.exit_code == 2 and "nonesuch" in bad.output
