"""DOXX's outbox, delivered by a real worker over HTTP to a second Tocsin configured as the OI OIAA."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import select

from tests.browser import LiveServer
from tests.interventions.support import END, SECRET, START, declaration, do_config, nature_lines
from tests.support import drop_database, fresh_database_url
from tocsin.app import create_app
from tocsin.core.config import Settings
from tocsin.core.db import Database
from tocsin.core.migrate import upgrade
from tocsin.core.outbox import Worker
from tocsin.interventions.config import apply_config, parse_config
from tocsin.interventions.do import service as declarations
from tocsin.interventions.models import Intervention

OI_CONFIG = {
    "self": {"code": "OIAA", "roles": ["OI"]},
    "partners": [{"code": "DOXX", "roles": ["DO"], "client_id": "doxx", "client_secret": SECRET}],
    "pms": [{"ref": "FI-12345-0001", "ocs": []}],
}


@pytest.fixture
def oi_database(tmp_path, database_kind) -> Iterator[Database]:
    url = fresh_database_url(tmp_path, database_kind)
    oi = Database(url)
    upgrade(oi)
    yield oi
    oi.engine.dispose()
    drop_database(url)


@pytest.fixture
def oi_server(oi_database, clock) -> Iterator[str]:
    with oi_database.session() as db:
        apply_config(db, parse_config(OI_CONFIG), now=clock())
    settings = Settings(
        database_url=oi_database.url, secret_key="oi-secret-key-0123456789", desks=["interventions"]
    )
    server = LiveServer(create_app(settings, database=oi_database, clock=clock))
    server.start()
    yield server.base_url
    server.stop()


@pytest.fixture
def do_side(database, clock, oi_server) -> None:
    with database.session() as db:
        apply_config(db, parse_config(do_config(oi_server)), now=clock())


def deliver(database, clock) -> None:
    worker = Worker(database, schedule=[60], name="do-worker", clock=clock)
    try:
        worker.run(stop_when_idle=True)
    finally:
        worker.close()


def test_m1_and_m3_reach_the_oi_and_come_back_with_its_reference(database, oi_database, clock, do_side):
    with database.session() as db:
        ref = declarations.start(
            db=db,
            pm="FI-12345-0001",
            natures=nature_lines(1),
            started_at=START,
            technician="tina",
            now=clock(),
        ).ref_do
    deliver(database, clock)
    acknowledged = declaration(database, ref)
    assert acknowledged.m1_state == "ok" and acknowledged.ref_oi
    with database.session() as db:
        declarations.end(db=db, ref_do=ref, ended_at=END, natures=nature_lines(3), now=clock())
    deliver(database, clock)
    ended = declaration(database, ref)
    assert (ended.m3_state, ended.ref_oi) == ("ok", acknowledged.ref_oi)
    with oi_database.session() as db:
        stored = db.scalar(select(Intervention).where(Intervention.ref_do == ref))
    assert (stored.code_do, stored.ref_oi, stored.pm) == ("DOXX", acknowledged.ref_oi, "FI-12345-0001")
    assert (stored.debut, stored.fin) == (ended.debut, ended.fin)
    assert stored.natures == [{"nature": 3, "PBO": "PT0012345"}]


def test_a_pm_the_oi_does_not_know_comes_back_as_a_ko_to_correct(database, oi_database, clock, do_side):
    with database.session() as db:
        ref = declarations.start(
            db=db,
            pm="FI-12345-0002",
            natures=nature_lines(4),
            started_at=START,
            technician="tina",
            now=clock(),
        ).ref_do
    deliver(database, clock)
    rejected = declaration(database, ref)
    assert (rejected.m1_state, rejected.last_code) == ("ko", 4)
    assert "FI-12345-0002" in rejected.last_description
    with database.session() as db:
        declarations.correct_and_resend(
            db=db, ref_do=ref, changes={"pm": "FI-12345-0001"}, now=clock(), actor="olive"
        )
    deliver(database, clock)
    corrected = declaration(database, ref)
    assert (corrected.m1_state, corrected.pm) == ("ok", "FI-12345-0001")
