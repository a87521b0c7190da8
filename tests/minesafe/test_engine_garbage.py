"""Garbage in: random values, NaN, impossible coordinates, unknown ids, time going backwards."""

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from tocsin.minesafe.engine import Engine
from tocsin.minesafe.model import Kind, Report

anything = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**20), 10**20),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=5),
    st.lists(st.integers(), max_size=2),
)
number = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.floats(-3000, 3000), anything)
kind = st.one_of(st.sampled_from(list(Kind)), st.sampled_from([k.value for k in Kind]), anything)
tracker = st.one_of(st.sampled_from(["a", "b", "c", "d"]), anything)

reports = st.builds(
    Report,
    t=number,
    tracker=tracker,
    kind=kind,
    x=number,
    y=number,
    speed=number,
    heading=st.one_of(st.none(), number),
    sos=anything,
    button=anything,
    battery=anything,
    site=st.one_of(st.just("default"), anything),
)


def counted(engine: Engine) -> int:
    return sum(v for k, v in engine.stats.items() if k == "accepted" or k.startswith("dropped:"))


@settings(max_examples=200, deadline=None)
@given(st.lists(reports, max_size=40), st.lists(number, max_size=5))
def test_garbage_never_raises_and_every_report_is_counted(batch: list[Report], ticks: list[object]) -> None:
    engine = Engine()
    for report in batch:
        for event in engine.ingest(report):
            assert event.t == event.t  # not NaN
    for now in ticks:
        engine.tick(now)  # type: ignore[arg-type]
    assert counted(engine) == len(batch)


def valid(t: float, tracker: str = "a", x: float = 0.0) -> Report:
    return Report(t, tracker, Kind.PERSON, x, 0.0, 1.0)


def test_time_going_backwards_is_dropped_as_out_of_order() -> None:
    engine = Engine()
    engine.ingest(valid(10.0))
    assert engine.ingest(valid(9.0, x=1.0)) == []
    assert engine.ingest(valid(10.0, x=1.0)) == []
    assert engine.stats["dropped:out_of_order"] == 2
    assert engine.position("a") == (10.0, 0.0, 0.0)


def test_nan_and_impossible_coordinates_are_dropped_with_their_reason() -> None:
    engine = Engine()
    engine.ingest(Report(math.nan, "a", Kind.PERSON, 0, 0, 0))
    engine.ingest(Report(1.0, "a", Kind.PERSON, 1e9, 0, 0))
    engine.ingest(Report(1.0, "a", Kind.PERSON, 0, 0, 99.0))
    engine.ingest(Report(1.0, "a", "submarine", 0, 0, 0))  # type: ignore[arg-type]
    assert engine.stats == {"dropped:bad_value": 2, "dropped:bad_position": 1, "dropped:bad_speed": 1}


def test_unknown_ids_are_dropped_when_a_registry_is_given() -> None:
    engine = Engine(registry={"a"})
    engine.ingest(valid(1.0, "zz"))
    engine.ingest(valid(1.0, "a"))
    assert engine.stats == {"dropped:unknown_id": 1, "accepted": 1}


def test_a_report_far_in_the_future_does_not_move_the_clock() -> None:
    engine = Engine()
    engine.ingest(valid(100.0))
    engine.ingest(valid(1e9, "b"))
    engine.ingest(valid(10.0, "c"))
    assert engine.clock == 100.0
    assert engine.stats["dropped:future"] == 1 and engine.stats["dropped:stale"] == 1


def test_a_tracker_cannot_change_its_kind() -> None:
    engine = Engine()
    engine.ingest(valid(1.0))
    engine.ingest(Report(2.0, "a", Kind.HAUL_TRUCK, 0, 0, 0))
    assert engine.stats["dropped:kind_changed"] == 1


def test_numbers_written_as_text_are_bad_values_not_crashes() -> None:
    engine = Engine()
    engine.ingest(valid(1.0))
    assert engine.ingest(Report("2", "a", Kind.PERSON, 0.0, 0.0, 1.0)) == []  # type: ignore[arg-type]
    assert engine.ingest(Report(3.0, "a", Kind.PERSON, "0", 0.0, 1.0)) == []  # type: ignore[arg-type]
    assert engine.tick("4") == []  # type: ignore[arg-type]
    assert engine.stats["dropped:bad_value"] == 2 and engine.stats["ignored:bad_tick"] == 1
    assert engine.clock == 1.0
