"""An OI that dispatches its own technicians: its DO declarations go straight to its OI rules."""

from datetime import UTC, datetime

from sqlalchemy import select

from tests.interventions.support import interventions, outbound
from tocsin.interventions.config import apply_config, parse_config
from tocsin.interventions.do import service as declarations
from tocsin.interventions.models import Declaration

CONFIG = {
    "self": {"code": "OIAA", "roles": ["OI", "DO"]},
    "partners": [{"code": "OCBB", "roles": ["OC"], "url": "http://127.0.0.1:9/v1"}],
    "pms": [{"ref": "FI-12345-0001", "ocs": ["OCBB"]}],
}


def test_start_and_end_on_our_own_pm_are_answered_at_once(database, clock):
    with database.session() as db:
        apply_config(db, parse_config(CONFIG), now=clock())
    started = datetime(2026, 11, 20, 8, 55, tzinfo=UTC)
    with database.session() as db:
        declarations.start(
            db=db,
            pm="FI-12345-0001",
            natures=[{"nature": 1, "PBO": "PT0000001"}],
            started_at=started.isoformat(),
            technician="tech",
            ref_do="OWN-1",
            now=clock(),
        )
    with database.session() as db:
        declarations.end(db=db, ref_do="OWN-1", ended_at="2026-11-20T10:30:00+01:00", now=clock())
    with database.session() as db:
        declaration = db.scalar(select(Declaration))
    [intervention] = interventions(database)
    assert (declaration.m1_state, declaration.m3_state) == ("ok", "ok")
    assert declaration.ref_oi == intervention.ref_oi
    assert (intervention.code_do, intervention.debut, intervention.created_from) == ("OIAA", started, "M1")
    assert intervention.fin is not None
    assert outbound(database) == [("OCBB", "M2"), ("OCBB", "M4")]
