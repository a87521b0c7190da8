"""Trucks in convoy in one lane and an oncoming truck in the other lane 12 m over: no alarm."""

from tests.minesafe.scenarios import run, run_with_summary


def test_convoy_and_oncoming_traffic_in_its_own_lane_raise_nothing() -> None:
    assert run("parallel") == []


def test_the_oncoming_truck_was_checked_against_both() -> None:
    _, replay = run_with_summary("parallel")
    assert replay.engine.stats["accepted"] == 3 * 241
