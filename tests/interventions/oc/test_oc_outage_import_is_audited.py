"""Every outage-feed import leaves an audit event naming who imported what; a refused one leaves none."""

import pytest
from sqlalchemy import select

from tests.interventions.support import GOOD_OUTAGE_CSV, OUTAGE_CSV_HEADER
from tocsin.core.audit import AuditEvent
from tocsin.interventions.oc.outages import FeedError, add_cuts, import_cuts_csv


def events(database):
    with database.session() as db:
        return [(e.actor, e.object_id, e.detail) for e in db.scalars(select(AuditEvent))]


def test_a_csv_import_is_audited_with_its_counts(database, clock):
    with database.session() as db:
        import_cuts_csv(db=db, text=GOOD_OUTAGE_CSV, now=clock(), actor="alice")
    assert events(database) == [("alice", "csv", {"imported": 2, "duplicates": 0})]


def test_a_json_import_is_audited(database, clock):
    cut = {
        "cut_at": "2026-11-20T10:05:00+01:00",
        "pm": "FI-12345-0001",
        "pto": "FI-1234-0001",
        "dying_gasp": False,
    }
    with database.session() as db:
        add_cuts(db=db, cuts=[cut], now=clock(), actor="feed-bot")
    assert events(database) == [("feed-bot", "api", {"imported": 1, "duplicates": 0})]


def test_a_refused_import_leaves_no_audit_event(database, clock):
    with pytest.raises(FeedError), database.session() as db:
        import_cuts_csv(
            db=db, text=OUTAGE_CSV_HEADER + "yesterday,FI-1,FI-2,,,,,no\n", now=clock(), actor="alice"
        )
    assert events(database) == []
