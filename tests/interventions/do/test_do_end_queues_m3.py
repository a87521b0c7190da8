"""A technician's end queues M3 on the declaration's stream, even before the OI acknowledged M1."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.interventions.support import (
    END,
    START,
    check_request_body,
    declaration,
    nature_lines,
    outbox_messages,
)
from tocsin.core.errors import DomainError
from tocsin.interventions.do import service as declarations


@pytest.fixture
def started(database, clock, do_setup) -> str:
    with database.session() as db:
        made = declarations.start(
            db=db,
            pm="FI-12345-0001",
            natures=nature_lines(1),
            started_at=START,
            technician="tina",
            now=clock(),
        )
    return made.ref_do


def end(database, clock, ref_do, **changes):
    arguments = {"ended_at": END, "natures": nature_lines(3), "now": clock(), **changes}
    with database.session() as db:
        return declarations.end(db=db, ref_do=ref_do, **arguments)


def test_end_before_the_ack_of_m1_still_queues_m3_behind_it(database, clock, started):
    assert declaration(database, started).m1_state == "queued"
    end(database, clock, started)
    m1, m3 = outbox_messages(database)
    assert (m1.kind, m3.kind) == ("M1", "M3")
    assert m1.stream == m3.stream
    check_request_body(m3.payload)
    assert m3.payload["Fin_Inter"] == "2026-11-20T11:30:00+01:00"
    assert m3.payload["Debut_Inter"] == m1.payload["Debut_Inter"]
    assert m3.payload["Nature_PBO_PTO"] == [{"nature": 3, "PBO": "PT0012345"}]


def test_end_stores_the_real_natures_and_time(database, clock, started):
    end(database, clock, started, natures=nature_lines(2, pto="FI-1234-5678"))
    stored = declaration(database, started)
    assert stored.fin == datetime(2026, 11, 20, 10, 30, tzinfo=UTC)
    assert stored.natures == [{"nature": 2, "PBO": "PT0012345", "PTO": "FI-1234-5678"}]
    assert stored.m3_state == "queued"


def test_the_same_end_sent_twice_queues_one_m3(database, clock, started):
    end(database, clock, started)
    end(database, clock, started)
    assert [m.kind for m in outbox_messages(database)] == ["M1", "M3"]


def test_a_corrected_end_is_sent_again(database, clock, started):
    end(database, clock, started)
    end(database, clock, started, ended_at="2026-11-20T11:45:00+01:00")
    assert [m.payload.get("Fin_Inter") for m in outbox_messages(database)] == [
        None,
        "2026-11-20T11:30:00+01:00",
        "2026-11-20T11:45:00+01:00",
    ]


def test_an_end_without_natures_keeps_those_of_the_start(database, clock, started):
    end(database, clock, started, natures=None)
    assert outbox_messages(database)[1].payload["Nature_PBO_PTO"] == [{"nature": 1, "PBO": "PT0012345"}]


def test_an_end_before_the_start_is_refused_naming_ended_at(database, clock, started):
    with pytest.raises(DomainError) as refused:
        end(database, clock, started, ended_at="2026-11-20T09:59:59+01:00")
    assert refused.value.field == "ended_at"
    assert [m.kind for m in outbox_messages(database)] == ["M1"]


def test_an_end_for_an_unknown_reference_is_refused(database, clock, started):
    with pytest.raises(DomainError) as refused:
        end(database, clock, "DOXX-NOPE")
    assert (refused.value.field, refused.value.status_code) == ("ref_do", 404)
