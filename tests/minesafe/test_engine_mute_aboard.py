"""Mute (button) and aboard rules, driven report by report."""

from tocsin.minesafe.engine import Engine
from tocsin.minesafe.model import Kind, Level, Report


def test_button_mutes_only_current_threats() -> None:
    engine = Engine()
    engine.ingest(Report(0.0, "T1", Kind.HAUL_TRUCK, 8.0, 0.0, 0.0))
    engine.ingest(Report(0.0, "P", Kind.PERSON, 0.0, 0.0, 0.0))
    muted = engine.ingest(Report(1.0, "P", Kind.PERSON, 0.0, 0.0, 0.0, button=True))
    assert [(e.state, e.ids) for e in muted] == [("muted", ("P", "T1"))]
    assert engine.buzzer("P") is None
    new = engine.ingest(Report(1.0, "T2", Kind.HAUL_TRUCK, 0.0, 8.0, 0.0))
    assert [(e.state, e.ids) for e in new] == [("raised", ("P", "T2"))]
    assert engine.buzzer("P") is Level.WARNING


def test_mute_ends_when_the_wearer_leaves_the_three_metre_zone() -> None:
    engine = Engine()
    engine.ingest(Report(0.0, "T", Kind.HAUL_TRUCK, 2.0, 0.0, 0.0))
    engine.ingest(Report(0.0, "P", Kind.PERSON, 0.0, 0.0, 0.0, button=True))
    assert engine.ingest(Report(1.0, "P", Kind.PERSON, 0.5, 0.0, 0.5)) == []
    again = engine.ingest(Report(5.0, "P", Kind.PERSON, -3.0, 0.0, 1.0))
    assert [(e.state, e.level) for e in again] == [("raised", Level.WARNING)]


def test_muted_threat_that_escalates_from_outside_the_zone_alarms_again() -> None:
    engine = Engine()
    engine.ingest(Report(0.0, "T", Kind.HAUL_TRUCK, 8.0, 0.0, 0.0))
    engine.ingest(Report(0.0, "P", Kind.PERSON, 0.0, 0.0, 0.0, button=True))
    events = engine.ingest(Report(1.0, "T", Kind.HAUL_TRUCK, 7.0, 0.0, 4.0, 270.0))
    assert [(e.state, e.level) for e in events] == [("raised", Level.DANGER)]


def test_walker_overtaken_closely_by_a_truck_is_in_danger_not_aboard() -> None:
    engine = Engine()
    events = []
    for i in range(40):
        t = i * 0.25
        events += engine.ingest(Report(t, "T", Kind.HAUL_TRUCK, 2.0 * t - 10.0, 0.0, 2.0, 90.0))
        events += engine.ingest(Report(t, "P", Kind.PERSON, 1.0 * t, 2.0, 1.0, 90.0))
    assert "aboard" not in {e.type for e in events}
    assert engine.buzzer("P") is Level.DANGER


def test_riding_person_is_aboard_and_not_alarmed_against_other_vehicles() -> None:
    engine = Engine()
    for i in range(40):
        t = i * 0.25
        engine.ingest(Report(t, "T", Kind.HAUL_TRUCK, 5.0 * t, 0.0, 5.0, 90.0))
        engine.ingest(Report(t, "P", Kind.PERSON, 5.0 * t, 1.0, 5.0, 90.0))
    assert engine.advice("P") == engine.config.advice_max_s
    events = engine.ingest(Report(10.0, "X", Kind.HAUL_TRUCK, 60.0, 0.0, 5.0, 270.0))
    assert {e.ids for e in events} == {("T", "X")}
