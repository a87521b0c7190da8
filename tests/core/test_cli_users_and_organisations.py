"""``tocsin org`` and ``tocsin user --org``: organisations and roles held within them from the command
line, with bad input named."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from tocsin.cli import app
from tocsin.core import orgs
from tocsin.core.auth import StaffUser
from tocsin.core.config import get_settings


@pytest.fixture
def run(database, monkeypatch):
    monkeypatch.setenv("TOCSIN_DATABASE_URL", database.url)
    monkeypatch.setenv("TOCSIN_NEW_PASSWORD", "a password long enough")
    get_settings.cache_clear()
    yield lambda *args: CliRunner().invoke(app, list(args))
    get_settings.cache_clear()


def test_a_team_under_an_operator_and_a_technician_in_it(run, database):
    assert run("org", "DOXX", "--name", "Sous-traitant X", "--kind", "operator").exit_code == 0
    assert run("org", "EST", "--name", "Équipe Est", "--parent", "DOXX").exit_code == 0
    result = run("user", "tina", "--roles", "technician", "--org", "EST")
    assert result.exit_code == 0, result.output
    with database.session() as db:
        tina = db.scalar(select(StaffUser).where(StaffUser.username == "tina"))
        assert tina.roles == [] and orgs.roles_of(db, tina) == {"technician"}


def test_an_unknown_parent_or_organisation_is_named(run):
    assert "--parent" in run("org", "EST", "--name", "Est", "--parent", "NOPE").output
    result = run("user", "tina", "--roles", "technician", "--org", "NOPE")
    assert result.exit_code == 2 and "--org" in result.output


def test_an_unknown_role_is_named(run):
    result = run("user", "tina", "--roles", "chief")
    assert result.exit_code == 2 and "--roles" in result.output
