"""The outage feed's JSON API: operators only, CSRF header, all or nothing, errors naming item and field."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.interventions.support import apply_oc_config
from tests.support import sign_in
from tocsin.interventions.models import LineCut

URL = "/api/interventions/outages"
CUT = {
    "cut_at": "2026-11-20T10:05:00+01:00",
    "pm": "FI-12345-0001",
    "pto": "FI-1234-5678",
    "pbo": "PT0012345",
    "dying_gasp": False,
}


@pytest.fixture
def web(app, database, clock, clamd):
    apply_oc_config(database, clock())
    with TestClient(app) as client:
        yield client


def cuts_stored(database) -> list[LineCut]:
    with database.session() as db:
        return list(db.scalars(select(LineCut)))


def test_an_operator_imports_cuts_and_learns_the_counts(web, database):
    token = sign_in(web, database, "olga", ["operator"])
    second = {**CUT, "pto": "FI-1234-5679", "dying_gasp": "oui", "tube": "unknown"}
    reply = web.post(URL, json=[CUT, second, CUT], headers={"X-CSRF-Token": token})
    assert reply.status_code == 200
    assert reply.json() == {"imported": 2, "duplicates": 1}
    stored = sorted(cuts_stored(database), key=lambda c: c.pto)
    assert [(c.source, c.dying_gasp, c.tube) for c in stored] == [
        ("api", False, "inconnu"),
        ("api", True, "inconnu"),
    ]


def test_a_bad_item_is_named_and_nothing_is_imported(web, database):
    token = sign_in(web, database, "olga", ["operator"])
    bad = {**CUT, "pto": "FI-1", "cut_at": "2026-11-20T10:05:00"}
    reply = web.post(URL, json=[CUT, bad, "nope"], headers={"X-CSRF-Token": token})
    assert reply.status_code == 400
    body = reply.json()
    assert body["field"] == "line 2: cut_at"
    assert [(p["line"], p["field"]) for p in body["problems"]] == [(2, "cut_at"), (3, "item")]
    assert cuts_stored(database) == []


def test_a_body_that_is_not_a_list_is_refused(web, database):
    token = sign_in(web, database, "olga", ["operator"])
    reply = web.post(URL, json=CUT, headers={"X-CSRF-Token": token})
    assert reply.status_code == 400 and reply.json()["field"] == "line 0: body"
    reply = web.post(URL, content=b"{not json", headers={"X-CSRF-Token": token})
    assert reply.status_code == 400 and reply.json()["field"] == "body"


def test_an_outsider_is_refused(web, database):
    reply = web.post(URL, json=[CUT])
    assert reply.status_code == 401
    assert cuts_stored(database) == []


def test_a_viewer_is_refused(web, database):
    token = sign_in(web, database, "victor", ["viewer"])
    reply = web.post(URL, json=[CUT], headers={"X-CSRF-Token": token})
    assert reply.status_code == 403
    assert cuts_stored(database) == []


def test_a_request_without_the_csrf_token_is_refused(web, database):
    sign_in(web, database, "olga", ["operator"])
    reply = web.post(URL, json=[CUT])
    assert reply.status_code == 400 and reply.json()["field"] == "csrf"
    assert cuts_stored(database) == []
