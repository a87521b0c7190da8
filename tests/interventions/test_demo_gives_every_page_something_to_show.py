"""``make demo`` loads data that gives every page of the desk something to show, in every role, and
loading it twice changes nothing."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from tests.support import sign_in
from tocsin.core.auth import upsert_staff
from tocsin.interventions.demo import load_demo
from tocsin.interventions.models import Declaration, Intervention, ReceivedIntervention, Rejection


@pytest.fixture
def demo(database, clock):
    with database.session() as db:
        upsert_staff(db, username="technicien", password="demo-password", roles=["technician"])
    with database.session() as db:
        summary = load_demo(db, now=clock())
    return summary


def rows(page: str) -> int:
    body = page.split("<tbody", 1)[1] if "<tbody" in page else ""
    return len(re.findall(r"<tr", body))


PAGES = [
    "/interventions/oi/interventions",
    "/interventions/oi/deliveries",
    "/interventions/oi/rejections",
    "/interventions/oi/referential",
    "/interventions/do/rejected",
    "/interventions/oc/received",
    "/interventions/oc/outages",
]


@pytest.mark.parametrize("path", PAGES)
def test_each_page_has_rows_to_show(app, database, demo, path):
    with TestClient(app) as client:
        sign_in(client, database, "admin", ["admin"])
        page = client.get(path)
    assert page.status_code == 200 and rows(page.text) > 0, path


def test_loading_twice_adds_nothing(database, clock, demo):
    def counts():
        with database.session() as db:
            return [
                db.scalar(select(func.count()).select_from(m)) for m in (Intervention, Rejection, Declaration)
            ]

    before = counts()
    with database.session() as db:
        load_demo(db, now=clock())
    assert counts() == before


def test_the_deployment_plays_the_three_roles(database, demo):
    with database.session() as db:
        assert db.scalar(select(func.count()).select_from(ReceivedIntervention)) == 2
        assert db.scalar(select(Declaration.m1_state)) == "ko"
