"""R M1/R M3 as the outbox records them: OK stores Ref_Interv_OI, a KO opens a correction, failed shows."""

from __future__ import annotations

from datetime import UTC, datetime

from tests.interventions.support import EVERYWHERE, answer, declaration, make_declaration
from tocsin.core.audit import events_for
from tocsin.interventions.do import service as declarations


def test_an_ok_stores_the_oi_reference(database, clock, do_setup):
    ref = make_declaration(database, clock)
    answer(database, clock, 200, {"Code_Reponse": 0, "Libelle_Reponse": "OK", "Ref_Interv_OI": "OIAA-1"})
    stored = declaration(database, ref)
    assert (stored.m1_state, stored.ref_oi) == ("ok", "OIAA-1")
    with database.session() as db:
        actions = [e.action for e in events_for(db, object_type="iv_declaration", object_id=ref)]
    assert actions[-1] == "interventions.declaration_ok"


def test_m3_ok_after_m1_ok_marks_both(database, clock, do_setup):
    ref = make_declaration(database, clock, with_end=True)
    answer(database, clock, 200, {"Code_Reponse": 0, "Libelle_Reponse": "OK", "Ref_Interv_OI": "OIAA-1"})
    answer(database, clock, 200, {"Code_Reponse": 0, "Libelle_Reponse": "OK", "Ref_Interv_OI": "OIAA-1"})
    stored = declaration(database, ref)
    assert (stored.m1_state, stored.m3_state, stored.ref_oi) == ("ok", "ok", "OIAA-1")


def test_a_functional_ko_is_kept_with_its_code_description_and_time(database, clock, do_setup):
    ref = make_declaration(database, clock)
    clock.advance(minutes=1)
    answer(
        database,
        clock,
        404,
        {
            "Code_Reponse": 4,
            "Libelle_Reponse": "PM_INCONNU",
            "Description_Reponse": "PM inconnu : FI-12345-0001",
        },
    )
    stored = declaration(database, ref)
    assert (stored.m1_state, stored.last_code, stored.last_description) == (
        "ko",
        4,
        "PM inconnu : FI-12345-0001",
    )
    assert stored.ko_at == datetime(2026, 11, 20, 9, 1, tzinfo=UTC)
    with database.session() as db:
        assert [d.ref_do for d in declarations.rejected(db, scope=EVERYWHERE)] == [ref]


def test_retries_exhausted_mark_the_message_failed(database, clock, do_setup):
    ref = make_declaration(database, clock)
    answer(database, clock, None, None, schedule=[])
    assert declaration(database, ref).m1_state == "failed"


def test_m3_accepted_after_a_failed_m1_covers_the_start(database, clock, do_setup):
    ref = make_declaration(database, clock, with_end=True)
    answer(database, clock, None, None, schedule=[])
    answer(database, clock, 200, {"Code_Reponse": 0, "Libelle_Reponse": "OK", "Ref_Interv_OI": "OIAA-9"})
    stored = declaration(database, ref)
    assert (stored.m1_state, stored.m3_state, stored.ref_oi) == ("replaced", "ok", "OIAA-9")


def test_a_network_error_with_retries_left_changes_nothing(database, clock, do_setup):
    ref = make_declaration(database, clock)
    answer(database, clock, None, None, schedule=[60])
    assert declaration(database, ref).m1_state == "queued"
