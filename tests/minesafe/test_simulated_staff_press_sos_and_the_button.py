"""Staff press SOS and the button when the run's scripts say; replaying the run shows the SOS alarm."""

import json

import pytest

from tocsin.minesafe.codec import decode_tracker
from tocsin.minesafe.replay import load_setup, replay_events
from tocsin.minesafe.simulator import SimConfig, replay_record, reports_from_ticks, simulate
from tocsin.minesafe.site import example_site_path, load_example_site

SITE = load_example_site()
SCRIPTED = SimConfig(seed=6, loss=0.0, sos_script=((12, 5.0, 8.0),), button_script=((14, 3.0),))


@pytest.fixture(scope="module")
def ticks():
    return list(simulate(SITE, SCRIPTED, 12))


def test_the_sos_bit_is_on_while_the_script_holds_it(ticks):
    sos = {
        (tick.t, packet.id): packet.sos
        for tick in ticks
        for packet in map(decode_tracker, (p.payload for p in tick.packets))
    }
    assert {t for (t, who), on in sos.items() if on} == {5.0, 6.0, 7.0}
    assert {who for (t, who), on in sos.items() if on} == {12}


def test_a_button_press_marks_the_pressers_report_of_that_second(ticks):
    pressed = [(r.t, r.tracker) for r in reports_from_ticks(ticks, SITE) if r.button]
    assert [(int(t), who) for t, who in pressed] == [(3, "quarry:14")]
    assert [(r.t, r.id) for tick in ticks for r in tick.truth if r.button] == [(3.0, 14)]


def test_replay_of_the_simulated_run_raises_and_clears_the_sos(ticks):
    lines = [json.dumps(replay_record(r)) for r in reports_from_ticks(ticks, SITE)]
    events, _ = replay_events(lines, setup=load_setup(example_site_path()))
    sos = [(int(e["t"]), e["ids"], e["state"]) for e in events if e["type"] == "sos"]
    assert sos == [(5, [12], "raised"), (8, [12], "cleared")]


def test_the_default_run_has_an_sos_and_two_presses():
    config = SimConfig()
    assert config.sos_script and len(config.button_script) == 2


def test_scripts_must_name_staff():
    with pytest.raises(ValueError, match=r"sos_script\[0\]: tracker 0 is a haul_truck, not staff"):
        next(simulate(SITE, SimConfig(sos_script=((0, 1.0, 2.0),)), 1))
    with pytest.raises(ValueError, match=r"button_script\[0\]: tracker 40 is not on the site"):
        next(simulate(SITE, SimConfig(button_script=((40, 1.0),)), 1))
