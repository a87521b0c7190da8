"""Which customers an OC reports as HS for an ended intervention (spec §2.1.5 criteria)."""

from __future__ import annotations

import pytest

from tests.interventions.support import OTHER_PM, add_cut, add_received, apply_oc_config
from tocsin.core.errors import Conflict
from tocsin.interventions.config import current
from tocsin.interventions.models import ReceivedIntervention
from tocsin.interventions.oc.outages import impacted_customers, review


@pytest.fixture
def intervention(database, clock):
    """An intervention at FI-12345-0001 from 10:00 to 11:30 Paris time."""
    apply_oc_config(database, clock())
    return add_received(database)


def ptos(database, received_id):
    with database.session() as db:
        received = db.get(ReceivedIntervention, received_id)
        return [cut.pto for cut in impacted_customers(db=db, received=received)]


def exclusions(database, received_id):
    with database.session() as db:
        received = db.get(ReceivedIntervention, received_id)
        result = review(db=db, received=received, config=current(db))
        return [(v.cut.pto, v.reason) for v in result.excluded]


def test_a_cut_inside_the_window_counts(database, intervention):
    add_cut(database, "2026-11-20T10:15:00+01:00", "FI-1234-0001")
    assert ptos(database, intervention) == ["FI-1234-0001"]


def test_the_window_bounds_are_included(database, intervention):
    add_cut(database, "2026-11-20T10:00:00+01:00", "FI-1234-0001")
    add_cut(database, "2026-11-20T11:30:00+01:00", "FI-1234-0002")
    assert ptos(database, intervention) == ["FI-1234-0001", "FI-1234-0002"]


def test_cuts_outside_the_window_are_excluded(database, intervention):
    add_cut(database, "2026-11-20T09:59:59+01:00", "FI-1234-0001")
    add_cut(database, "2026-11-20T11:30:01+01:00", "FI-1234-0002")
    assert ptos(database, intervention) == []
    assert exclusions(database, intervention) == [
        ("FI-1234-0001", "outside the intervention window"),
        ("FI-1234-0002", "outside the intervention window"),
    ]


def test_a_power_cut_is_excluded(database, intervention):
    add_cut(database, "2026-11-20T10:15:00+01:00", "FI-1234-0001", dying_gasp=True)
    assert ptos(database, intervention) == []
    assert exclusions(database, intervention) == [("FI-1234-0001", "power cut (dying gasp)")]


def test_a_cut_with_no_pto_is_excluded(database, intervention):
    add_cut(database, "2026-11-20T10:15:00+01:00", "")
    assert ptos(database, intervention) == []
    assert exclusions(database, intervention) == [("", "no PTO known")]


def test_a_cut_at_another_pm_is_ignored(database, intervention):
    add_cut(database, "2026-11-20T10:15:00+01:00", "FI-1234-0001", pm=OTHER_PM)
    assert ptos(database, intervention) == []
    assert exclusions(database, intervention) == []


def test_one_entry_per_pto_with_its_earliest_cut(database, intervention):
    add_cut(database, "2026-11-20T10:40:00+01:00", "FI-1234-0001", pbo="later")
    add_cut(database, "2026-11-20T10:10:00+01:00", "FI-1234-0001", pbo="earliest")
    with database.session() as db:
        received = db.get(ReceivedIntervention, intervention)
        (cut,) = impacted_customers(db=db, received=received)
    assert cut.pbo == "earliest"
    assert exclusions(database, intervention) == [("FI-1234-0001", "later cut of a line already counted")]


def test_a_power_cut_does_not_hide_a_real_cut_of_the_same_line(database, intervention):
    add_cut(database, "2026-11-20T10:05:00+01:00", "FI-1234-0001", dying_gasp=True)
    add_cut(database, "2026-11-20T10:20:00+01:00", "FI-1234-0001")
    assert ptos(database, intervention) == ["FI-1234-0001"]


def test_an_intervention_without_an_end_has_no_impacted_list_yet(database, clock):
    apply_oc_config(database, clock())
    received_id = add_received(database, fin=None)
    with database.session() as db, pytest.raises(Conflict) as caught:
        impacted_customers(db=db, received=db.get(ReceivedIntervention, received_id))
    assert caught.value.field == "m5"
