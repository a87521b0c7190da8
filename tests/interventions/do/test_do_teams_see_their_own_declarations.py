"""Technicians and supervisors work within a team: each sees and corrects the rejected declarations of
its own team (and the teams below it), never another team's; a global operator sees them all."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tests.interventions.support import START, make_declaration, reject
from tests.support import make_staff, sign_in
from tocsin.core import orgs
from tocsin.core.auth import StaffUser
from tocsin.interventions.models import Declaration


@pytest.fixture
def teams(database, clock, do_setup):
    """Two teams under one operator; one rejected declaration for each."""
    with database.session() as db:
        orgs.upsert_org(db, code="DOXX", name="Sous-traitant X", kind="operator")
        east = orgs.upsert_org(db, code="EST", name="Équipe Est", parent="DOXX").id
        west = orgs.upsert_org(db, code="OUEST", name="Équipe Ouest", parent="DOXX").id
    for name, org, role in (
        ("paul", "EST", "operator"),
        ("tina", "EST", "technician"),
        ("omar", "OUEST", "technician"),
    ):
        make_staff(database, username=name, roles=[])
        with database.session() as db:
            orgs.grant(
                db, user=db.scalar(select(StaffUser).where(StaffUser.username == name)), org=org, role=role
            )
    refs = {}
    for team, technician, org_id in (("EST", "tina", east), ("OUEST", "omar", west)):
        refs[team] = make_declaration(database, clock, technician=technician, team=org_id)
        reject(database, clock)
    return refs


@pytest.mark.parametrize(
    ("name", "sees", "does_not_see"), [("paul", "EST", "OUEST"), ("omar", "OUEST", "EST")]
)
def test_the_rejected_list_shows_only_the_readers_team(web, database, teams, name, sees, does_not_see):
    sign_in(web, database, name, [])
    page = web.get("/interventions/do/rejected").text
    assert teams[sees] in page and teams[does_not_see] not in page


def test_a_global_operator_sees_every_team(web, database, teams):
    sign_in(web, database, "gilles", ["operator"])
    page = web.get("/interventions/do/rejected").text
    assert teams["EST"] in page and teams["OUEST"] in page


def test_another_teams_declaration_is_not_found_by_its_reference(web, database, teams):
    sign_in(web, database, "omar", [])
    assert web.get(f"/api/interventions/do/declarations/{teams['EST']}").status_code == 404
    assert web.get(f"/api/interventions/do/declarations/{teams['OUEST']}").status_code == 200


def test_another_teams_declaration_cannot_be_corrected_or_ended(web, database, teams):
    csrf = sign_in(web, database, "omar", [])
    corrected = web.post(
        f"/interventions/do/rejected/{teams['EST']}", data={"csrf": csrf, "pm": "FI-12345-0001"}
    )
    ended = web.post(
        "/api/interventions/do/end",
        json={"ref_do": teams["EST"], "ended_at": "2026-11-20T11:30:00+01:00"},
        headers={"X-CSRF-Token": csrf},
    )
    assert corrected.status_code == 404 and ended.status_code == 404


def test_a_new_declaration_keeps_the_technicians_team(web, database):
    with database.session() as db:
        orgs.upsert_org(db, code="EST", name="Équipe Est")
    make_staff(database, username="tina", roles=[])
    with database.session() as db:
        tina = db.scalar(select(StaffUser).where(StaffUser.username == "tina"))
        orgs.grant(db, user=tina, org="EST", role="technician")
    csrf = sign_in(web, database, "tina", [])
    body = {"ref_do": "DOXX-T-1", "pm": "FI-12345-0001", "natures": [{"nature": 1}], "started_at": START}
    assert (
        web.post("/api/interventions/do/start", json=body, headers={"X-CSRF-Token": csrf}).status_code == 200
    )
    with database.session() as db:
        team = db.scalar(select(Declaration.org_id).where(Declaration.ref_do == "DOXX-T-1"))
        assert team == db.scalar(select(orgs.Organisation.id).where(orgs.Organisation.code == "EST"))
