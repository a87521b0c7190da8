"""A truck backs up to a fitter, who mutes it; it leaves (cleared) and comes back (alarms again)."""

from tests.minesafe.scenarios import brief, run


def test_muted_threat_that_leaves_and_comes_back_alarms_again() -> None:
    events = [(e[1], e[2], e[4]) for e in brief(run("truck_returns"))]
    assert events == [
        ("run_over", "WARNING", "raised"),
        ("run_over", "DANGER", "raised"),
        ("run_over", "WARNING", "raised"),  # truck stopped 6 m away: no longer a run-over threat
        ("run_over", "WARNING", "muted"),
        ("run_over", "WARNING", "cleared"),
        ("run_over", "WARNING", "raised"),
        ("run_over", "DANGER", "raised"),
        ("run_over", "WARNING", "raised"),
    ]


def test_times_of_mute_clear_and_return() -> None:
    events = run("truck_returns")
    muted = next(e for e in events if e["state"] == "muted")
    cleared = next(e for e in events if e["state"] == "cleared")
    again = [e for e in events if e["state"] == "raised" and e["t"] > cleared["t"]][0]
    assert muted["t"] == 22.0
    assert 30.0 <= cleared["t"] <= 33.0  # the truck is > 13 m away (10 m ring × exit factor)
    assert 70.0 < again["t"] < 80.0
