"""A rejected declaration may be corrected and re-sent within ko_resend_hours (48 h), not after."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.interventions.support import (
    EVERYWHERE,
    check_request_body,
    declaration,
    make_declaration,
    outbox_messages,
    reject,
)
from tocsin.core.audit import events_for
from tocsin.core.errors import DomainError
from tocsin.interventions.do import service as declarations


def correct(database, clock, ref, **changes):
    with database.session() as db:
        return declarations.correct_and_resend(db=db, ref_do=ref, changes=changes, now=clock(), actor="olive")


def test_a_rejected_m1_corrected_within_48_hours_is_sent_again(database, clock, do_setup):
    ref = make_declaration(database, clock)
    reject(database, clock)
    clock.advance(hours=47, minutes=59)
    correct(database, clock, ref, pm="FI-12345-0002", started_at="2026-11-20T10:10:00+01:00")
    resent = outbox_messages(database)[-1]
    assert resent.kind == "M1" and resent.status == "pending"
    check_request_body(resent.payload)
    assert (resent.payload["PM"], resent.payload["Debut_Inter"]) == (
        "FI-12345-0002",
        "2026-11-20T10:10:00+01:00",
    )
    assert resent.payload["Ref_Interv_DO"] == ref
    stored = declaration(database, ref)
    assert (stored.pm, stored.m1_state, stored.debut) == (
        "FI-12345-0002",
        "queued",
        datetime(2026, 11, 20, 9, 10, tzinfo=UTC),
    )
    with database.session() as db:
        trail = events_for(db, object_type="iv_declaration", object_id=ref)
        assert (trail[-1].action, trail[-1].actor) == ("interventions.declaration_corrected", "olive")
        assert declarations.rejected(db, scope=EVERYWHERE) == []


def test_a_correction_after_48_hours_is_refused(database, clock, do_setup):
    ref = make_declaration(database, clock)
    reject(database, clock)
    clock.advance(hours=48, seconds=1)
    with pytest.raises(DomainError) as refused:
        correct(database, clock, ref, pm="FI-12345-0002")
    assert refused.value.field == "ref_do"
    assert "window" in refused.value.reason
    assert declaration(database, ref).pm == "FI-12345-0001"


def test_a_declaration_that_was_not_rejected_cannot_be_corrected(database, clock, do_setup):
    ref = make_declaration(database, clock)
    with pytest.raises(DomainError) as refused:
        correct(database, clock, ref, pm="FI-12345-0002")
    assert refused.value.field == "ref_do"


def test_a_rejected_declaration_with_an_end_is_corrected_by_m3(database, clock, do_setup):
    ref = make_declaration(database, clock, with_end=True)
    reject(database, clock, code=2, description="Mauvais format : Nature_PBO_PTO[0].PBO")
    correct(database, clock, ref, natures=[{"nature": 3, "PBO": "PT0099999"}])
    resent = outbox_messages(database)[-1]
    assert resent.kind == "M3"
    check_request_body(resent.payload)
    assert resent.payload["Nature_PBO_PTO"] == [{"nature": 3, "PBO": "PT0099999"}]
    stored = declaration(database, ref)
    assert (stored.m1_state, stored.m3_state) == ("replaced", "queued")


def test_a_correction_is_validated_like_a_start(database, clock, do_setup):
    ref = make_declaration(database, clock)
    reject(database, clock)
    with pytest.raises(DomainError) as refused:
        correct(database, clock, ref, natures=[{"nature": 3}])
    assert refused.value.field == "natures[0].nature"
