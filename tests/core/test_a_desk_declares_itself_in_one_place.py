"""A desk declares itself once, in its Desk object: registered, its route is served, its tables are
known to the migration environment, its job runs in the worker, its commands join the CLI and its
menu entry shows. (Adding a real desk is then one line in tocsin/desks.py.)"""

from __future__ import annotations

import sys

import pytest
import typer
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from fastapi import APIRouter
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from tests.support import sign_in
from tocsin import desks
from tocsin.core.db import Base
from tocsin.core.desk import Desk, NavLink
from tocsin.core.scheduler import Job

ticks: list[str] = []


def sixth_desk() -> Desk:
    router = APIRouter()

    @router.get("/sixth/hello")
    def hello() -> dict[str, str]:
        return {"desk": "sixth"}

    commands = typer.Typer()

    @commands.command()
    def wave() -> None:
        typer.echo("waving from the sixth desk")

    def tick(*, db, now) -> str:
        ticks.append(now.isoformat())
        return "ticked"

    return Desk(
        name="sixth",
        title="Sixth desk",
        routers=[router],
        models=["tests.core.sixth.models"],
        jobs=[Job("sixth.tick", 60, tick)],
        cli=commands,
        nav=[NavLink("Sixth things", "hello")],
    )


@pytest.fixture
def sixth(database):
    desks.register(sixth_desk())
    yield
    desks.unregister("sixth")
    table = Base.metadata.tables.get("sixth_note")
    if table is not None:
        Base.metadata.remove(table)
    sys.modules.pop("tests.core.sixth.models", None)


def test_its_route_is_served_and_its_menu_entry_shown(sixth, settings, database, clock):
    from tocsin.app import create_app

    with TestClient(create_app(settings, database=database, clock=clock)) as client:
        assert client.get("/sixth/hello").json() == {"desk": "sixth"}
        sign_in(client, database, "vera", ["viewer"])
        assert "Sixth things" in client.get("/?lang=en").text


def test_its_tables_are_known_to_the_migration_environment(sixth, database):
    from tocsin.migrations.models import import_all_models

    import_all_models()
    with database.engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert [(d[0], d[1].name) for d in diff if d[0] == "add_table"] == [("add_table", "sixth_note")]


def test_its_job_is_run_by_the_worker(sixth, settings, clock):
    from tocsin.jobs import run_worker

    ticks.clear()
    run_worker(settings, name="w", once=True, clock=clock)
    assert ticks == [clock().isoformat()]


def test_its_commands_join_the_cli(sixth):
    from tocsin.cli import add_desk_commands

    result = CliRunner().invoke(add_desk_commands(typer.Typer()), ["sixth", "wave"])
    assert result.exit_code == 0 and "waving from the sixth desk" in result.output


def test_an_unknown_desk_is_a_configuration_error():
    with pytest.raises(ValueError, match="unknown desk"):
        desks.load(["nonesuch"])


def test_a_route_named_like_another_pages_is_refused(settings, database, clock):
    from tocsin.app import create_app

    router = APIRouter()

    @router.get("/seventh/home")
    def home() -> dict[str, str]:  # "home" is the shell's home page already
        return {}

    desks.register(Desk(name="seventh", title="Seventh", routers=[router]))
    try:
        with pytest.raises(ValueError, match="route name 'home'"):
            create_app(settings, database=database, clock=clock)
    finally:
        desks.unregister("seventh")
