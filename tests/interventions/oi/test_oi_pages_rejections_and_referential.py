"""Rejected messages page (filters) and referential page (PMs, OCs, partners, no secrets)."""

from __future__ import annotations

import pytest

from tests.interventions.support import SECRET, m1
from tests.support import sign_in

REJECTIONS = "/interventions/oi/rejections"
REFERENTIAL = "/interventions/oi/referential"


@pytest.fixture
def rejected(client, clock, do_headers, ocbb_headers):
    """An unknown PM from DOXX today, a bad format from OCBB tomorrow."""
    client.post("/v1/intervention_DO", json=m1("RJ-1", PM="FI-99999-0009"), headers=do_headers)
    clock.advance(minutes=30)
    client.post(
        "/v1/client_HS_OC_Par_Inter",
        json={"Code_OC_impacte": "OCBB", "Ref_Interv_OI": "OIAA-NOPE"},
        headers=ocbb_headers,
    )


def test_rejections_are_listed_with_their_reason(client, database, rejected):
    sign_in(client, database, "olive", ["viewer"])
    page = client.get(REJECTIONS, params={"lang": "en"}).text
    assert "PM inconnu : FI-99999-0009" in page and "Ref_Interv_OI inconnue : OIAA-NOPE" in page
    assert page.count("<td><details>") == 2


def test_rejections_filters(client, database, rejected):
    sign_in(client, database, "olive", ["operator"])
    by_sender = client.get(REJECTIONS, params={"sender": "OCBB"}).text
    assert "OIAA-NOPE" in by_sender and "FI-99999-0009" not in by_sender.split("<table")[1]
    by_path = client.get(REJECTIONS, params={"path": "/v1/intervention_DO"}).text
    assert "FI-99999-0009" in by_path.split("<table")[1] and "OIAA-NOPE" not in by_path
    assert client.get(REJECTIONS, params={"until": "2026-11-19"}).text.count("<td><details>") == 0
    assert client.get(REJECTIONS, params={"since": "2026-11-20"}).text.count("<td><details>") == 2
    bad = client.get(REJECTIONS, params={"path": "/v1/other", "lang": "en"})
    assert bad.status_code == 400 and '<a href="#path">Choose an endpoint from the list.</a>' in bad.text


def test_referential_lists_pms_ocs_and_partners_without_secrets(client, database, oi_config):
    sign_in(client, database, "olive", ["viewer"])
    page = client.get(REFERENTIAL, params={"lang": "en"}).text
    assert '<th scope="row">FI-12345-0001</th><td></td><td>OIAA</td><td>OCBB, OCCC</td>' in page
    assert '<th scope="row">FI-12345-0003</th><td></td><td>OIAA</td><td>none</td>' in page
    assert "<td>OC, DO</td><td>http://127.0.0.1:9/v1</td>\n      <td>yes</td><td>no</td>" in page
    assert "<td>DO</td><td>none</td>\n      <td>yes</td><td>no</td>" in page
    assert SECRET not in page and "secret" not in page.lower()


def test_referential_in_french(client, database, oi_config):
    sign_in(client, database, "olive", ["operator"])
    page = client.get(REFERENTIAL, params={"lang": "fr"}).text
    assert "Référentiel" in page and "PM et OC présents" in page and "Identifiants pour nous appeler" in page


@pytest.mark.parametrize("url", [REJECTIONS, REFERENTIAL])
def test_outsider_and_technician_are_refused(client, database, oi_config, url):
    assert client.get(url, follow_redirects=False).headers["location"].startswith("/login")
    sign_in(client, database, "tech", ["technician"])
    assert client.get(url).status_code == 403
