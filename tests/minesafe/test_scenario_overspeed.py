"""Speed limit on the ramp: 30 km/h for haul trucks, alarm after 5 s over the limit."""

from tests.minesafe.scenarios import brief, run


def test_truck_over_the_limit_for_ten_seconds_is_alarmed_after_five_and_cleared_when_slow() -> None:
    events = [e for e in brief(run("overspeed", zones=True)) if e[1] == "overspeed"]
    assert events == [
        (5.25, "overspeed", "WARNING", (1,), "raised"),  # over from t = 0.25 (first moving fix) + 5 s
        (12.25, "overspeed", "WARNING", (1,), "cleared"),  # first fix at 25 km/h
    ]


def test_three_seconds_over_the_limit_is_not_an_alarm() -> None:
    assert not [e for e in run("overspeed", zones=True) if e["type"] == "overspeed" and e["ids"] == [2]]


def test_overspeed_event_carries_limit_and_speed() -> None:
    event = next(e for e in run("overspeed", zones=True) if e["type"] == "overspeed")
    assert event["zone"] == "main ramp"
    assert event["detail"] == {"limit_kmh": 30.0, "speed_kmh": 35.0}
