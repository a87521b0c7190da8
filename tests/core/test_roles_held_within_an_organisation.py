"""A role held within an organisation reaches its units and nothing else; a global role reaches
everything; the signed-in user's roles open pages whether global or held within an organisation."""

from __future__ import annotations

import pytest
from fastapi import Depends
from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.support import make_staff, sign_in
from tocsin.core import orgs
from tocsin.core.auth import StaffUser
from tocsin.core.errors import DomainError


def user(db, name: str) -> StaffUser:
    return db.scalar(select(StaffUser).where(StaffUser.username == name))


@pytest.fixture
def tree(database):
    """An operator with two regions, the east region with two teams."""
    with database.session() as db:
        orgs.upsert_org(db, code="OIAA", name="Opérateur", kind="operator")
        orgs.upsert_org(db, code="EST", name="Région Est", parent="OIAA")
        orgs.upsert_org(db, code="OUEST", name="Région Ouest", parent="OIAA")
        orgs.upsert_org(db, code="EST-1", name="Équipe Est 1", parent="EST")
        orgs.upsert_org(db, code="EST-2", name="Équipe Est 2", parent="EST")
    make_staff(database, username="sophie", roles=[])
    make_staff(database, username="gilles", roles=["operator"])


def codes(db, scope: orgs.Scope) -> set[str]:
    rows = db.scalars(select(orgs.Organisation.code).where(orgs.Organisation.id.in_(scope.orgs)))
    return set(rows)


def test_a_role_in_a_region_reaches_its_teams_only(database, tree):
    with database.session() as db:
        orgs.grant(db, user=user(db, "sophie"), org="EST", role="operator")
        scope = orgs.scope_of(db, user(db, "sophie"), ["operator"])
        assert not scope.everywhere and codes(db, scope) == {"EST", "EST-1", "EST-2"}
        assert orgs.scope_of(db, user(db, "sophie"), ["technician"]).nowhere


def test_a_global_role_reaches_everything(database, tree):
    with database.session() as db:
        assert orgs.scope_of(db, user(db, "gilles"), ["operator", "viewer"]).everywhere


def test_roles_of_a_user_gather_global_and_scoped_ones(database, tree):
    with database.session() as db:
        orgs.grant(db, user=user(db, "gilles"), org="EST-1", role="technician")
        assert orgs.roles_of(db, user(db, "gilles")) == {"operator", "technician"}


def test_an_organisation_cannot_belong_to_its_own_unit(database, tree):
    with database.session() as db, pytest.raises(DomainError) as refused:
        orgs.upsert_org(db, code="EST", name="Région Est", parent="EST-1")
    assert refused.value.field == "parent"


def test_unknown_roles_and_organisations_are_named(database, tree):
    with database.session() as db:
        with pytest.raises(DomainError) as bad_role:
            orgs.grant(db, user=user(db, "sophie"), org="EST", role="chief")
        with pytest.raises(DomainError) as bad_org:
            orgs.grant(db, user=user(db, "sophie"), org="NORD", role="operator")
    assert (bad_role.value.field, bad_org.value.field) == ("role", "org")


def test_a_role_held_within_an_organisation_opens_the_pages_of_that_role(app, database, tree):
    from tocsin.core.web import require_staff

    @app.get("/test-operators-only")
    def operators_only(who=Depends(require_staff("operator"))):
        return {"user": who.username}

    with database.session() as db:
        orgs.grant(db, user=user(db, "sophie"), org="EST", role="operator")
    with TestClient(app) as client:
        sign_in(client, database, "sophie", [])
        assert client.get("/test-operators-only").json() == {"user": "sophie"}
