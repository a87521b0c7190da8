"""A blaster walks into a blast area and out; a surveyor walks into an excavator's swing radius."""

from tests.minesafe.scenarios import brief, run

SPEED = 150 / 107  # the blaster's walking speed along y = 50, from x = 0


def blaster(events):
    return [(e[0], e[1], e[2], e[4]) for e in brief(events) if e[3] == (1,)]


def test_blaster_gets_approach_entry_exit_in_order_at_the_right_places() -> None:
    back = 110  # starts walking back from x = 150
    assert blaster(run("blast_zone", zones=True)) == [
        (58.0, "zone_approach", "WARNING", "raised"),  # x ≥ 80: 20 m from the zone
        (72.0, "zone_entry", "DANGER", "raised"),  # x ≥ 100: inside
        (float(int(back + 53 / SPEED) + 1), "zone_entry", "DANGER", "cleared"),  # 3 m outside
        (float(int(back + 53 / SPEED) + 1), "zone_approach", "WARNING", "raised"),
        (float(int(back + 73 / SPEED) + 1), "zone_approach", "WARNING", "cleared"),  # 23 m outside
    ]


def test_swing_zone_moves_with_the_excavator() -> None:
    surveyor = [(e[1], e[2], e[4]) for e in brief(run("blast_zone", zones=True)) if e[3] == (3,)]
    assert surveyor == [("zone_approach", "WARNING", "raised"), ("zone_entry", "DANGER", "raised")]
    entry = next(e for e in run("blast_zone", zones=True) if e["type"] == "zone_entry" and e["ids"] == [3])
    assert 24.0 <= entry["t"] <= 26.0  # 15 m from the excavator at (500, 500)


def test_standing_excavator_gives_the_surveyor_a_warning_never_danger() -> None:
    pair = [(e[1], e[2]) for e in brief(run("blast_zone", zones=True)) if set(e[3]) == {2, 3}]
    assert pair == [("run_over", "WARNING")]


def test_no_zone_alarms_without_zones() -> None:
    assert not [e for e in run("blast_zone") if e["type"].startswith("zone")]
