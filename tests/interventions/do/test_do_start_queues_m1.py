"""A technician's start becomes one declaration and one M1 queued for the PM's OI."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from sqlalchemy import func, select

from tests.interventions.support import START, check_request_body, declaration, nature_lines, outbox_messages
from tocsin.core.audit import events_for
from tocsin.interventions.do import service as declarations
from tocsin.interventions.models import Declaration


def start(database, clock, **changes):
    arguments = {
        "pm": "FI-12345-0001",
        "natures": nature_lines(1, pto="FI-1234-5678"),
        "started_at": START,
        "technician": "tina",
        "now": clock(),
        **changes,
    }
    with database.session() as db:
        return declarations.start(db=db, **arguments)


def test_start_queues_an_m1_that_matches_the_official_schema(database, clock, do_setup):
    made = start(database, clock)
    [message] = outbox_messages(database)
    assert (message.kind, message.partner, message.url) == (
        "M1",
        "OIAA",
        "http://127.0.0.1:9/v1/intervention_DO",
    )
    check_request_body(message.payload)
    assert message.payload == {
        "Code_DO": "DOXX",
        "Code_OI": "OIAA",
        "Ref_Interv_DO": made.ref_do,
        "PM": "FI-12345-0001",
        "Nature_PBO_PTO": [{"nature": 1, "PBO": "PT0012345", "PTO": "FI-1234-5678"}],
        "Debut_Inter": "2026-11-20T10:00:00+01:00",
    }
    assert message.credential == "iv:OIAA"


def test_start_stores_the_declaration_with_its_time_in_utc(database, clock, do_setup):
    made = start(database, clock, started_at="2026-11-20T08:30:00-05:00")
    stored = declaration(database, made.ref_do)
    assert stored.debut == datetime(2026, 11, 20, 13, 30, tzinfo=UTC)
    assert (stored.code_oi, stored.m1_state, stored.m3_state, stored.technician) == (
        "OIAA",
        "queued",
        "none",
        "tina",
    )
    [message] = outbox_messages(database)
    assert message.payload["Debut_Inter"] == "2026-11-20T14:30:00+01:00"


def test_generated_references_follow_the_protocol_pattern_and_differ(database, clock, do_setup):
    first, second = start(database, clock), start(database, clock)
    for made in (first, second):
        assert re.fullmatch(r"[0-9A-Z_-]{1,50}", made.ref_do)
        assert made.ref_do.startswith("DOXX-20261120-")
    assert first.ref_do != second.ref_do


def test_a_typed_pm_in_lower_case_is_found(database, clock, do_setup):
    assert start(database, clock, pm=" fi-12345-0002 ").pm == "FI-12345-0002"


def test_the_same_client_reference_twice_answers_the_existing_declaration(database, clock, do_setup):
    first = start(database, clock, ref_do="DOXX-PHONE-0001")
    again = start(database, clock, ref_do="DOXX-PHONE-0001", started_at="2026-11-20T10:05:00+01:00")
    assert again.id == first.id
    with database.session() as db:
        assert db.scalar(select(func.count()).select_from(Declaration)) == 1
    assert [m.kind for m in outbox_messages(database)] == ["M1"]
    assert declaration(database, "DOXX-PHONE-0001").debut == datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


def test_start_is_audited(database, clock, do_setup):
    made = start(database, clock)
    with database.session() as db:
        trail = events_for(db, object_type="iv_declaration", object_id=made.ref_do)
    assert [(e.action, e.actor) for e in trail] == [("interventions.declaration_started", "tina")]


def test_several_lines_are_grouped_in_one_m1(database, clock, do_setup):
    start(
        database,
        clock,
        natures=[{"nature": 2, "PBO": "PT1"}, {"nature": 4}, {"nature": "1", "PTO": "FI-1-2"}],
    )
    [message] = outbox_messages(database)
    check_request_body(message.payload)
    assert message.payload["Nature_PBO_PTO"] == [
        {"nature": 2, "PBO": "PT1"},
        {"nature": 4},
        {"nature": 1, "PTO": "FI-1-2"},
    ]
