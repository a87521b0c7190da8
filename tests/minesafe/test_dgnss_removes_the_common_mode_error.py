"""A base at a surveyed point removes the site-wide error; what is left is rover plus base noise."""

import numpy as np
import pytest

from tocsin.minesafe.accuracy import (
    CommonModeError,
    GnssErrorModel,
    correction_cm,
    dgnss_correction,
    dgnss_study,
    r95,
)


def test_the_correction_is_truth_minus_fix():
    assert dgnss_correction((10.5, -3.0), (10.0, -2.0)) == pytest.approx([-0.5, 1.0])


def test_dgnss_brings_a_consumer_receiver_under_3m_r95():
    model = GnssErrorModel()
    study = dgnss_study(model, seconds=20_000, seed=1)
    assert study["raw_r95_m"] > 3.0
    assert study["dgnss_r95_m"] == pytest.approx(r95(model.dgnss_sigma_m), rel=0.05)
    assert study["dgnss_r95_m"] < 3.0


def test_the_common_mode_process_keeps_its_sigma():
    model = GnssErrorModel(common_sigma_m=2.0, common_tau_s=5.0)
    common = CommonModeError(model, np.random.default_rng(3))
    values = np.array([common.step(1.0) for _ in range(50_000)])
    assert values.std(axis=0) == pytest.approx([2.0, 2.0], rel=0.05)


def test_correction_is_carried_in_centimetres_within_15_bits():
    assert correction_cm((1.234, -0.005)) == (123, 0)
    with pytest.raises(ValueError, match="^correction: "):
        correction_cm((200.0, 0.0))
