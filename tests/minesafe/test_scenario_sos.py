"""SOS: an immediate DANGER to dispatch, naming the trackers near enough to help."""

from tests.minesafe.scenarios import brief, run


def test_sos_is_raised_at_the_press_and_cleared_when_released() -> None:
    assert brief(run("sos")) == [
        (10.0, "sos", "DANGER", (1,), "raised"),
        (13.0, "sos", "DANGER", (1,), "cleared"),
    ]


def test_sos_notifies_the_truck_100_m_away_not_the_walker_1_km_away() -> None:
    event = run("sos")[0]
    assert event["detail"]["notify"] == [2]


def test_in_tracker_mode_the_truck_hears_the_sos_and_the_far_walker_does_not() -> None:
    assert [e["type"] for e in run("sos", mode="tracker", own=2)] == ["sos", "sos"]
    assert run("sos", mode="tracker", own=3) == []
