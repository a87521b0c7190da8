"""Adaptive report interval and tracker mode."""

import pytest

from tocsin.minesafe.engine import Engine
from tocsin.minesafe.model import Kind, Report


def test_alone_on_site_means_the_longest_interval() -> None:
    engine = Engine()
    engine.ingest(Report(0.0, "P", Kind.PERSON, 0.0, 0.0, 1.0))
    assert engine.advice("P") == 60.0


def test_a_truck_within_reach_means_one_second() -> None:
    engine = Engine()
    engine.ingest(Report(0.0, "P", Kind.PERSON, 0.0, 0.0, 1.0))
    engine.ingest(Report(0.0, "T", Kind.HAUL_TRUCK, 300.0, 0.0, 10.0))
    assert engine.advice("P") == 1.0


def test_a_parked_truck_far_away_allows_a_longer_interval() -> None:
    engine = Engine()
    engine.ingest(Report(0.0, "P", Kind.PERSON, 0.0, 0.0, 1.0))
    engine.ingest(Report(0.0, "T", Kind.HAUL_TRUCK, 300.0, 0.0, 0.0))
    assert 60.0 > engine.advice("P") > 30.0  # (300 - 10) m at 1 + 3 m/s, less the 30 s margin


def test_tracker_mode_alarms_only_pairs_with_its_own_tracker() -> None:
    engine = Engine(mode="tracker", own_id="P")
    engine.ingest(Report(0.0, "P", Kind.PERSON, 0.0, 0.0, 0.0))
    engine.ingest(Report(0.0, "A", Kind.HAUL_TRUCK, 500.0, 5.0, 0.0))
    assert engine.ingest(Report(0.0, "B", Kind.HAUL_TRUCK, 500.0, 0.0, 0.0)) == []
    events = engine.ingest(Report(0.0, "C", Kind.HAUL_TRUCK, 6.0, 0.0, 0.0))
    assert [e.ids for e in events] == [("P", "C")]


def test_tracker_mode_needs_its_own_id() -> None:
    with pytest.raises(ValueError, match="own_id"):
        Engine(mode="tracker")
    with pytest.raises(ValueError, match="mode"):
        Engine(mode="satellite")
