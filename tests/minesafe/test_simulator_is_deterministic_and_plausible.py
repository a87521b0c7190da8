"""The quarry simulator: same seed, same run; speeds a quarry would see; loss near what was asked."""

import numpy as np
import pytest

from tocsin.minesafe.codec import decode_tracker
from tocsin.minesafe.simulator import SimConfig, reports_from_ticks, simulate
from tocsin.minesafe.site import load_example_site

SITE = load_example_site()


@pytest.fixture(scope="module")
def run():
    return list(simulate(SITE, SimConfig(seed=11), 600))


def _speeds_kmh(ticks, kind):
    return np.array([r.speed * 3.6 for tick in ticks for r in tick.truth if r.kind == kind])


def test_the_same_seed_gives_identical_output(run):
    assert list(simulate(SITE, SimConfig(seed=11), 200)) == run[:200]


def test_another_seed_gives_another_run(run):
    assert list(simulate(SITE, SimConfig(seed=12), 60)) != run[:60]


def test_speeds_are_plausible_per_class(run):
    trucks = _speeds_kmh(run, "haul_truck")
    assert trucks.max() <= 40.0 + 1e-9
    assert 10.0 < trucks[trucks > 1].mean() < 40.0
    assert _speeds_kmh(run, "drill").max() <= 2.0 + 1e-9
    walkers = [r.speed for t in run for r in t.truth if r.id in (11, 12, 13)]
    assert 1.0 < max(walkers) <= 1.5 + 1e-9


def test_every_truck_moves_and_stops(run):
    for tracker in range(6):
        speeds = [r.speed for tick in run for r in tick.truth if r.id == tracker]
        assert max(speeds) > 5.0 and min(speeds) == 0.0


def test_packet_loss_fraction_is_near_the_configured_rate():
    ticks = list(simulate(SITE, SimConfig(seed=3, loss=0.2, mast_outage=None, battery_tracker=None), 300))
    heard = sum(len(t.packets) for t in ticks)
    sent = 300 * len(SITE.trackers) * len(SITE.masts)
    assert 1 - heard / sent == pytest.approx(0.2, abs=0.02)


def test_a_mast_without_power_hears_nothing(run):
    masts = {p.mast for tick in run if 120 <= tick.t < 420 for p in tick.packets}
    assert masts == {0, 2}
    assert {p.mast for tick in run if tick.t >= 420 for p in tick.packets} == {0, 1, 2}


def test_a_tracker_with_both_cells_empty_goes_silent(run):
    states = {r.battery for t in run for r in t.truth if r.id == 11}
    assert states == {"ok", "first_empty", "both_empty"}
    late_ids = {decode_tracker(p.payload).id for tick in run if tick.t >= 540 for p in tick.packets}
    assert 11 not in late_ids and 12 in late_ids


def test_sequence_numbers_count_mod_8():
    ticks = list(simulate(SITE, SimConfig(seed=5, loss=0.0), 10))
    seqs = [decode_tracker(t.packets[0].payload) for t in ticks]
    assert [p.seq for p in seqs if p.id == 0] == [n % 8 for n in range(10)]


def test_decoded_reports_are_deduplicated_across_masts(run):
    reports = list(reports_from_ticks(run[:60], SITE))
    keys = [(r.tracker, int(r.t)) for r in reports]
    assert len(keys) == len(set(keys))
    assert len(reports) > 0.95 * 60 * len(SITE.trackers)


def test_riders_move_with_their_vehicle(run):
    for tick in run[::50]:
        where = {r.id: r for r in tick.truth}
        assert np.hypot(where[16].x - where[0].x, where[16].y - where[0].y) < 2.0
        assert where[16].speed == where[0].speed
