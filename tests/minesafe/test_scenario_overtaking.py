"""A clean overtake in the other lane, and a faster truck closing from behind in the same lane."""

from tests.minesafe.scenarios import brief, first, run
from tocsin.minesafe.engine import EngineConfig

REAR_END_T = 200 / (12 - 6)  # truck 4 starts 200 m behind truck 3, 6 m/s faster


def test_clean_overtake_in_the_other_lane_raises_nothing() -> None:
    assert not [e for e in run("overtaking") if {1, 2} & set(e["ids"])]


def test_closing_from_behind_in_one_lane_raises_warning_then_danger() -> None:
    events = [e for e in run("overtaking") if set(e["ids"]) == {3, 4}]
    assert [(e[1], e[2], e[4]) for e in brief(events)] == [
        ("collision", "WARNING", "raised"),
        ("collision", "DANGER", "raised"),
    ]


def test_following_alarm_comes_inside_the_stopping_distance_of_the_follower() -> None:
    cfg = EngineConfig()
    v, a = 12.0, cfg.decel["haul_truck"]
    stopping = cfg.danger_r0 + v * cfg.reaction_s + v * v / (2 * a)
    danger = first(run("overtaking"), "collision", "DANGER")
    assert danger["distance"] <= stopping + 0.5 * 6  # within half a second of the radius
    assert REAR_END_T - danger["t"] >= cfg.reaction_s + (12 - 6) / a
