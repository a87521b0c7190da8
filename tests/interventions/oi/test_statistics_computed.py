"""Statistics on a hand-built data set: local days across midnight UTC, PM/DO counts, share, medians."""

from __future__ import annotations

from datetime import date, timedelta
from fractions import Fraction
from zoneinfo import ZoneInfo

import pytest

from tests.interventions.support import add_intervention, utc
from tocsin.interventions.oi.stats import statistics

PARIS = ZoneInfo("Europe/Paris")


@pytest.fixture
def figures(database):
    with database.session() as db:
        # 22:30 UTC on the 19th is 23:30 on the 19th in Paris; 23:30 UTC is 00:30 on the 20th.
        add_intervention(db, "A", do="DOXX", pm="PM-1", debut=utc(19, 22, 30), delay_min=10, impacts=(True,))
        add_intervention(db, "B", do="DOXX", pm="PM-1", debut=utc(19, 23, 30), delay_min=20, impacts=(False,))
        add_intervention(db, "C", do="DOXX", pm="PM-2", debut=utc(20, 9), delay_min=60, impacts=(False, True))
        add_intervention(db, "D", do="OCBB", pm="PM-1", debut=utc(20, 10), delay_min=5)
        add_intervention(db, "E", do="OCBB", pm="PM-2", debut=utc(21, 8), delay_min=None)
        add_intervention(db, "OUT", do="DOXX", pm="PM-9", debut=utc(18, 22, 59), delay_min=1, impacts=(True,))
    with database.session() as db:
        return statistics(db=db, since=date(2026, 11, 19), until=date(2026, 11, 21), zone=PARIS)


def test_per_day_counts_local_days_across_midnight_utc(figures):
    assert figures.per_day == [(date(2026, 11, 19), 1), (date(2026, 11, 20), 3), (date(2026, 11, 21), 1)]
    assert figures.total == 5


def test_per_pm_and_per_do_most_frequent_first(figures):
    assert figures.per_pm == [("PM-1", 3), ("PM-2", 2)]
    assert figures.per_do == [("DOXX", 3), ("OCBB", 2)]


def test_share_counts_only_interventions_with_a_counted_customer(figures):
    assert figures.with_impacts == 2
    assert figures.impacted_share == Fraction(2, 5)


def test_median_delay_overall_and_per_do(figures):
    assert figures.median_delay == timedelta(minutes=15)
    assert figures.delay_per_do == [("DOXX", timedelta(minutes=20), 3), ("OCBB", timedelta(minutes=5), 1)]


def test_quiet_period_has_zero_days_and_no_median(database):
    with database.session() as db:
        empty = statistics(db=db, since=date(2026, 1, 1), until=date(2026, 1, 2), zone=PARIS)
    assert empty.per_day == [(date(2026, 1, 1), 0), (date(2026, 1, 2), 0)]
    assert empty.total == 0 and empty.impacted_share is None and empty.median_delay is None
