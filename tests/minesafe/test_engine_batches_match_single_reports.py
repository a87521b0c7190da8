"""``ingest_many`` is ``ingest`` of each report in turn: the same events in the same order, the same
counters, however the reports are cut into batches."""

from __future__ import annotations

import random

import pytest

from tests.minesafe.crowd import crowd
from tests.minesafe.scenarios import ZONES, lines
from tocsin.minesafe.engine import Engine
from tocsin.minesafe.replay import BadLine, Replay, load_setup

SCENARIOS = ["head_on", "crossing_loss20", "driver_boards", "gnss_jumps", "sos", "blast_zone", "silent"]


def one_by_one(engine: Engine, reports: list) -> list:
    return [event for report in reports for event in engine.ingest(report)]


def in_batches(engine: Engine, reports: list, seed: int) -> list:
    rng, events, start = random.Random(seed), [], 0
    while start < len(reports):
        size = rng.choice((1, 2, 5, 40, 300))
        events += engine.ingest_many(reports[start : start + size])
        start += size
    return events


def scenario_reports(name: str) -> list:
    replay = Replay(Engine())
    out = []
    for line in lines(name):
        try:
            out.append(replay.parse(line))
        except BadLine:
            continue
    return out


@pytest.mark.parametrize("name", SCENARIOS)
def test_a_scenario_in_batches_raises_what_it_raises_report_by_report(name: str) -> None:
    zones = load_setup(ZONES).zones
    reports = scenario_reports(name)
    single, batched = Engine(zones=zones), Engine(zones=zones)
    assert in_batches(batched, reports, seed=1) == one_by_one(single, reports)
    assert batched.stats == single.stats


def test_a_crowd_cut_into_ticks_and_random_batches_raises_the_same_events() -> None:
    reports = [report for batch in crowd() for report in batch]
    single, by_tick, cut = Engine(), Engine(), Engine()
    expected = one_by_one(single, reports)
    assert len(expected) > 50
    assert [e for batch in crowd() for e in by_tick.ingest_many(batch)] == expected
    assert in_batches(cut, reports, seed=2) == expected
    assert by_tick.threats() == single.threats() and cut.stats == single.stats


def test_tracker_mode_in_batches_matches_report_by_report() -> None:
    reports = [report for batch in crowd(n=40) for report in batch]
    single, batched = Engine(mode="tracker", own_id="c:3"), Engine(mode="tracker", own_id="c:3")
    assert in_batches(batched, reports, seed=3) == one_by_one(single, reports)


def test_a_packed_yard_with_thousands_of_new_pairs_in_one_batch_matches_report_by_report() -> None:
    reports = [report for batch in crowd(n=150, ticks=3, size=20.0) for report in batch]
    expected = one_by_one(Engine(), reports)
    batched = Engine()
    first = batched.ingest_many(reports[:150])
    assert len(first) > 2000  # more new pairs in one batch than the search's first output buffer holds
    assert first + batched.ingest_many(reports[150:]) == expected
