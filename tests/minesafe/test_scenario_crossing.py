"""A truck and a light vehicle reach the same intersection at the same moment (t = 30 s)."""

from tests.minesafe.scenarios import brief, first, run
from tocsin.minesafe.engine import EngineConfig

MEET_T = 30.0


def test_crossing_raises_collision_warning_then_danger() -> None:
    assert [(e[1], e[2], e[3], e[4]) for e in brief(run("crossing"))] == [
        ("collision", "WARNING", (1, 2), "raised"),
        ("collision", "DANGER", (1, 2), "raised"),
    ]


def test_crossing_danger_leaves_both_vehicles_time_to_stop() -> None:
    cfg = EngineConfig()
    truck = cfg.reaction_s + 8.0 / cfg.decel["haul_truck"]
    car = cfg.reaction_s + 12.0 / cfg.decel["light_vehicle"]
    danger = first(run("crossing"), "collision", "DANGER")
    assert MEET_T - danger["t"] >= max(truck, car)
    assert danger["cpa"] < 1.0


def test_crossing_warning_comes_from_the_predicted_meeting_not_the_distance() -> None:
    warning = first(run("crossing"), "collision", "WARNING")
    assert warning["distance"] > 200  # far apart, but on a collision course
    assert abs(warning["tcpa"] - (MEET_T - warning["t"])) < 0.5
