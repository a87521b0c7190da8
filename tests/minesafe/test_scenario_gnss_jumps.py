"""GNSS noise and 80–300 m jumps on a walker and a truck 150 m apart: no alarm storm."""

from tests.minesafe.scenarios import run, run_with_summary


def test_jumps_raise_no_alarm() -> None:
    assert run("gnss_jumps") == []


def test_jumps_are_counted_and_held_back() -> None:
    _, replay = run_with_summary("gnss_jumps")
    stats = replay.engine.stats
    assert stats["dropped:gnss_jump"] >= 20
    assert stats["relocated"] <= 2  # two jumps to the same wrong place are rare
    assert stats["accepted"] + stats["dropped:gnss_jump"] == replay.lines
