"""A haul truck at 10 m/s and a walker on a head-on course: WARNING, then DANGER in time to stop."""

from tests.minesafe.scenarios import brief, first, raised, run
from tocsin.minesafe.engine import EngineConfig

TRUCK_SPEED = 10.0
WALKER_SPEED = 1.4
IMPACT_T = 400 / (TRUCK_SPEED + WALKER_SPEED)  # truck starts at x = 400, walker at x = 0


def test_head_on_raises_warning_then_danger_run_over_for_the_walker_first() -> None:
    events = run("head_on")
    assert [(e[1], e[2], e[3], e[4]) for e in brief(events)] == [
        ("run_over", "WARNING", (2, 1), "raised"),
        ("run_over", "DANGER", (2, 1), "raised"),
    ]


def test_danger_comes_before_the_truck_could_stop() -> None:
    cfg = EngineConfig()
    stopping = cfg.reaction_s + TRUCK_SPEED / cfg.decel["haul_truck"]
    danger = first(run("head_on"), "run_over", "DANGER")
    assert IMPACT_T - danger["t"] >= stopping
    assert danger["cpa"] < cfg.danger_r0
    assert abs(danger["tcpa"] - (IMPACT_T - danger["t"])) < 0.5


def test_warning_leads_danger_by_at_least_five_seconds() -> None:
    events = run("head_on")
    warning, danger = first(events, "run_over", "WARNING"), first(events, "run_over", "DANGER")
    assert 5.0 <= danger["t"] - warning["t"] <= 10.0
    assert IMPACT_T - warning["t"] <= 20.0  # not a nuisance alarm from half the site away


def test_each_level_is_raised_once() -> None:
    assert len(raised(run("head_on"))) == 2
