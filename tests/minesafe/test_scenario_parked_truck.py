"""A walker passes 6 m beside a parked truck: a WARNING while close, never DANGER."""

from tests.minesafe.scenarios import brief, run


def test_walker_beside_parked_truck_gets_one_warning_and_no_danger() -> None:
    events = run("parked")
    assert [(e[1], e[2], e[3], e[4]) for e in brief(events)] == [
        ("run_over", "WARNING", (2, 1), "raised"),
        ("run_over", "WARNING", (2, 1), "cleared"),
    ]


def test_warning_covers_the_walk_past_the_truck_only() -> None:
    raised, cleared = run("parked")
    # walker at x = -50 + 1.4 t, y = 6: closest at t = 35.7 s
    assert 28 <= raised["t"] <= 33
    assert 40 <= cleared["t"] <= 46
