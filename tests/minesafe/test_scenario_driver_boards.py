"""The driver walks to his parked truck, presses the button, boards, and the truck drives off."""

import json

from tests.minesafe.scenarios import brief, lines, run
from tocsin.minesafe.engine import Engine
from tocsin.minesafe.model import Level
from tocsin.minesafe.replay import Replay


def test_alarm_then_mute_then_aboard_then_silence() -> None:
    events = run("driver_boards")
    assert [(e[1], e[2], e[3], e[4]) for e in brief(events)] == [
        ("run_over", "WARNING", (2, 1), "raised"),
        ("run_over", "WARNING", (2, 1), "muted"),
        ("run_over", "DANGER", (2, 1), "cleared"),
        ("aboard", "INFO", (2, 1), "raised"),
    ]


def test_mute_is_at_the_button_press_and_aboard_a_few_seconds_after_driving_off() -> None:
    events = run("driver_boards")
    assert events[1]["t"] == 45.0
    assert 53.0 <= events[3]["t"] <= 65.0


def test_buzzer_silent_after_the_press_and_adaptive_interval_long_while_aboard() -> None:
    engine = Engine()
    list(Replay(engine).run(lines("driver_boards")))
    assert engine.buzzer("default:2") is None
    assert engine.buzzer("default:1") is None
    assert engine.advice("default:2") == engine.config.advice_max_s


def test_buzzer_sounds_warning_before_the_press() -> None:
    engine = Engine()
    early = [line for line in lines("driver_boards") if json.loads(line)["t"] <= 40]
    list(Replay(engine).run(early))
    assert engine.buzzer("default:2") is Level.WARNING
    assert engine.advice("default:2") == engine.config.advice_min_s
