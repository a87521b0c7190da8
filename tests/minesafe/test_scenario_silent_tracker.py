"""A tracker goes silent for 30 s (dispatch alarm after 10 s) and its first cell runs empty."""

from tests.minesafe.scenarios import brief, run


def test_silent_tracker_alarm_after_ten_seconds_and_cleared_when_heard_again() -> None:
    assert [e for e in brief(run("silent")) if e[1] == "silent"] == [
        (31.0, "silent", "WARNING", (2,), "raised"),
        (50.0, "silent", "WARNING", (2,), "cleared"),
    ]


def test_first_cell_empty_is_a_low_battery_warning_once() -> None:
    assert [e for e in brief(run("silent")) if e[1] == "low_battery"] == [
        (5.0, "low_battery", "WARNING", (2,), "raised"),
    ]


def test_a_tracker_on_its_own_raises_no_silent_alarm_for_others() -> None:
    assert [e["type"] for e in run("silent", mode="tracker", own=1)] == []
