"""Levels, hysteresis, pair classes and priorities of the engine, one rule per test."""

import random

from tocsin.minesafe.engine import Engine
from tocsin.minesafe.model import Kind, Level, Report


def truck(
    t: float, x: float, y: float = 0.0, speed: float = 0.0, heading: float | None = None, id: str = "T"
):
    return Report(t, id, Kind.HAUL_TRUCK, x, y, speed, heading)


def person(t: float, x: float, y: float = 0.0, speed: float = 0.0, id: str = "P", **extra):
    return Report(t, id, Kind.PERSON, x, y, speed, **extra)


def test_person_standing_on_the_noisy_edge_of_the_warning_ring_does_not_flap() -> None:
    rng = random.Random(1)
    engine = Engine()
    events = []
    for i in range(600):
        t = i * 0.25
        events += engine.ingest(truck(t, rng.gauss(0, 1)))
        if i % 4 == 0:
            events += engine.ingest(person(t, 10.0 + rng.gauss(0, 1)))
    assert len(events) <= 2  # at most one raised and one cleared in 150 s of noise


def test_two_people_never_alarm_each_other() -> None:
    engine = Engine()
    engine.ingest(person(0.0, 0.0, id="A"))
    assert engine.ingest(person(0.0, 1.0, id="B")) == []
    assert engine.ingest(person(1.0, 0.5, id="B", speed=0.6)) == []


def test_two_parked_trucks_side_by_side_warn_but_never_danger() -> None:
    engine = Engine()
    engine.ingest(truck(0.0, 0.0, id="A"))
    events = engine.ingest(truck(0.0, 3.0, id="B"))
    assert [(e.type, e.level) for e in events] == [("collision", Level.WARNING)]


def test_pedestrian_alarm_comes_before_the_collision_alarm_of_the_same_report() -> None:
    engine = Engine()
    engine.ingest(person(0.0, 50.0, 0.5))
    engine.ingest(truck(0.0, 50.0, 1.5, id="B"))
    events = engine.ingest(truck(0.0, 0.0, 0.0, 10.0, 90.0))
    assert [e.type for e in events] == ["run_over", "collision"]
    assert events[0].ids == ("P", "T")


def test_heading_is_estimated_from_the_track_when_packets_carry_none() -> None:
    engine = Engine()
    engine.ingest(person(0.0, 100.0))
    first = engine.ingest(truck(0.0, 0.0, speed=10.0))
    assert first == []  # direction still unknown: nothing predicted from one fix
    events = []
    for i in range(1, 4):
        events += engine.ingest(truck(i * 0.25, 2.5 * i, speed=10.0))
    assert [(e.type, e.level) for e in events] == [("run_over", Level.DANGER)]
    assert events[0].tcpa > 8.0


def test_level_is_held_for_a_while_before_it_drops() -> None:
    engine = Engine()
    engine.ingest(person(0.0, 0.0))
    engine.ingest(truck(0.0, 8.0))
    assert engine.threats() == {("P", "T"): Level.WARNING}
    assert engine.ingest(truck(1.0, 40.0)) == []  # gone, but only cleared after clear_s outside
    assert engine.ingest(truck(2.5, 40.0)) == []
    assert [e.state for e in engine.ingest(truck(3.0, 40.0))] == ["cleared"]


def test_closing_slowly_on_a_vehicle_ahead_within_stopping_distance_is_danger() -> None:
    engine = Engine()
    engine.ingest(truck(0.0, 40.0, speed=9.0, heading=90.0, id="A"))
    events = engine.ingest(truck(0.0, 0.0, speed=10.0, heading=90.0, id="B"))
    assert [(e.type, e.level) for e in events] == [("collision", Level.DANGER)]
    assert events[0].tcpa > 25  # beyond every horizon: raised by the stopping radius (58 m at 10 m/s)
