"""CEP50 = 1.177σ and R95 = 2.448σ for circular Gaussian errors, in closed form and by simulation."""

import numpy as np
import pytest

from tocsin.minesafe.accuracy import cep50, quantisation_sigma, r95, radial_errors, sigma_for_r95


def test_closed_form_factors():
    assert cep50(1.0) == pytest.approx(1.177, abs=1e-3)
    assert r95(1.0) == pytest.approx(2.448, abs=1e-3)
    assert sigma_for_r95(r95(0.7)) == pytest.approx(0.7)


def test_r95_of_simulated_gaussian_errors_matches_2_448_sigma():
    rng = np.random.default_rng(597)
    sigma = 0.7
    fixes = rng.normal(0.0, sigma, size=(200_000, 2))
    errors = radial_errors(fixes, np.zeros_like(fixes))
    assert np.percentile(errors, 95) == pytest.approx(2.448 * sigma, rel=0.01)
    assert np.median(errors) == pytest.approx(1.177 * sigma, rel=0.01)


def test_the_sources_receiver_1m_rms_is_1_7m_r95():
    sigma_per_axis = 1.0 / np.sqrt(2)  # 1 m RMS horizontal
    assert r95(sigma_per_axis) == pytest.approx(1.73, abs=0.01)


def test_packet_grid_rounding_adds_a_fifth_of_a_metre():
    assert quantisation_sigma(2500 / 4096) == pytest.approx(0.176, abs=1e-3)
