"""Declaration, M5 and outbox states are known values, checked by the database as well as by Python."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from tests.interventions.support import add_received, apply_oc_config, make_declaration


@pytest.mark.parametrize(
    ("table", "column"),
    [("iv_declaration", "m1_state"), ("iv_declaration", "m3_state"), ("iv_received", "m5_state")],
)
def test_an_unknown_state_is_refused_by_the_database(database, clock, do_setup, table, column):
    make_declaration(database, clock)
    apply_oc_config(database, clock())
    add_received(database)
    with pytest.raises(IntegrityError), database.session() as db:
        db.execute(text(f"UPDATE {table} SET {column} = 'lost'"))


def test_an_unknown_outbox_status_is_refused_by_the_database(database, clock, do_setup):
    make_declaration(database, clock)
    with pytest.raises(IntegrityError), database.session() as db:
        db.execute(text("UPDATE outbox_message SET status = 'lost'"))
