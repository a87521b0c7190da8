"""The source's three channel plans, recomputed: bit totals, air time, duty cycle and capacity."""

import math

import pytest

from tocsin.minesafe.radio import (
    EU868,
    LoraParams,
    best_band,
    evaluate,
    plan_table,
    profiles,
    source_plans,
    write_plot,
)
from tocsin.minesafe.site import load_example_site

PLANS = {plan.key: plan for plan in source_plans(20, 3)}


def test_bit_totals_are_corrected():
    assert PLANS["A"].bits_per_cycle == 20 * 37 + 3 * 655 == 2705  # the source wrote 2035
    assert PLANS["B"].bits_per_cycle == 20 * 37 + 655 == 1395  # the source wrote 1295
    assert PLANS["B avg"].bits_per_cycle == 914  # the source's average case is right
    assert PLANS["C"].bits_per_cycle == 1395


def test_a_500khz_channel_does_not_fit_the_10_percent_band():
    assert best_band(EU868, channels=1, bw_hz=250e3).name == "g3"
    assert best_band(EU868, channels=1, bw_hz=500e3).duty == 0.01
    assert best_band(EU868, channels=3, bw_hz=125e3).duty == 0.01


def test_plan_c_at_sf7_250khz_fits_one_second_reporting_in_g3():
    row = evaluate(PLANS["C"], LoraParams(sf=7, bw_hz=250e3), EU868, guard_s=0.005)
    assert row["band"] == "g3"
    assert row["tracker_toa_ms"] == pytest.approx(15.488)
    assert row["airtime_ms"] == pytest.approx(20 * (15.488 + 5) + (71.808 + 5), abs=1e-6)
    assert row["station_duty_pct"] == pytest.approx(71.808 / 3 / 10)
    assert row["fits_1hz"]
    assert row["max_trackers_1hz"] == 32  # the 5-bit id field is the limit, not the air


def test_plan_b_fails_because_three_channels_only_fit_1_percent_bands():
    row = evaluate(PLANS["B"], LoraParams(sf=7, bw_hz=125e3), EU868, guard_s=0.005)
    assert row["duty_limit_pct"] == 1.0
    assert not row["fits_1hz"]
    assert row["min_interval_s"] == pytest.approx(row["station_toa_ms"] / 1000 / 0.01)


def test_plan_a_at_sf7_125khz_needs_more_than_a_second():
    row = evaluate(PLANS["A"], LoraParams(sf=7, bw_hz=125e3), EU868, guard_s=0.005)
    assert row["occupancy_pct"] > 100
    assert row["max_trackers_1hz"] == 15
    # each station sends 143.6 ms every cycle: 10 % duty needs a cycle of at least 1.436 s
    assert row["min_interval_s"] == pytest.approx(row["station_toa_ms"] / 1000 / 0.10)


def test_a_profile_with_no_fitting_band_makes_nothing_feasible():
    narrow = profiles(
        {"profiles": {"narrow": [{"name": "n", "low_mhz": 869.0, "high_mhz": 869.1, "duty": 0.1}]}}
    )
    row = evaluate(PLANS["C"], LoraParams(), narrow["narrow"], guard_s=0.005)
    assert row["band"] == "none fits"
    assert math.isinf(row["min_interval_s"])
    assert row["max_trackers_1hz"] == 0


def test_the_russian_profile_comes_from_the_site_file():
    found = profiles(load_example_site().radio)
    assert set(found) == {"EU868", "RU864"}
    assert max(band.duty for band in found["RU864"].bands) == 0.1


def test_a_malformed_profile_names_the_field():
    with pytest.raises(ValueError, match=r"^radio\.profiles\.X\[0\]: needs"):
        profiles({"profiles": {"X": [{"name": "x", "low_mhz": 1.0}]}})


def test_the_table_has_a_row_per_plan_sf_and_bandwidth():
    rows = plan_table(sfs=(7, 8), bws_hz=(125e3, 250e3))
    assert len(rows) == 4 * 2 * 2
    assert {"plan", "sf", "bw_khz", "occupancy_pct", "min_interval_s", "fits_1hz"} <= set(rows[0])


def test_the_plot_is_a_png(tmp_path):
    path = write_plot(plan_table(sfs=(7, 8)), tmp_path / "plan.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
