"""CPA/TCPA of the engine against a brute-force search along the relative track."""

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from tocsin.minesafe.engine import closest_approach

coordinate = st.floats(-2000, 2000, allow_nan=False)
velocity = st.floats(-30, 30, allow_nan=False)


def brute_force(rx: float, ry: float, wx: float, wy: float, horizon: float) -> tuple[float, float]:
    """Smallest distance and its time over [0, horizon], sampled finely."""
    times = np.linspace(0.0, horizon, 20_001)
    dist = np.hypot(rx + wx * times, ry + wy * times)
    i = int(np.argmin(dist))
    return float(dist[i]), float(times[i])


@settings(max_examples=150, deadline=None)
@given(coordinate, coordinate, velocity, velocity)
def test_cpa_matches_brute_force_search(rx: float, ry: float, wx: float, wy: float) -> None:
    d, cpa, tcpa = (float(v[0]) for v in closest_approach(*(np.array([v]) for v in (rx, ry, wx, wy))))
    assert math.isclose(d, math.hypot(rx, ry), abs_tol=1e-9)
    horizon = max(tcpa, 0.0) * 2 + 1.0
    step = horizon / 20_000
    best, when = brute_force(rx, ry, wx, wy, horizon)
    # Below |w| = 3.2e-5 m/s (|w|² ≤ 1e-9) the pair counts as not closing: CPA is the distance now.
    creep = math.hypot(wx, wy) * horizon if wx * wx + wy * wy <= 1e-9 else 0.0
    assert best - math.hypot(wx, wy) * step - 1e-6 <= cpa <= best + creep + 1e-6
    if tcpa > 0:
        # distance grows with |t - TCPA|, so the best sample is the one nearest to TCPA
        assert abs(tcpa - when) <= step


def test_separating_pair_has_negative_tcpa_and_cpa_equal_to_distance() -> None:
    d, cpa, tcpa = closest_approach(np.array([10.0]), np.array([0.0]), np.array([5.0]), np.array([0.0]))
    assert tcpa[0] < 0 and cpa[0] == d[0] == 10.0


def test_pair_moving_together_has_zero_tcpa() -> None:
    d, cpa, tcpa = closest_approach(np.array([3.0]), np.array([4.0]), np.array([0.0]), np.array([0.0]))
    assert (d[0], cpa[0], tcpa[0]) == (5.0, 5.0, 0.0)


def test_head_on_pair_meets_at_zero() -> None:
    _, cpa, tcpa = closest_approach(np.array([100.0]), np.array([0.0]), np.array([-10.0]), np.array([0.0]))
    assert cpa[0] == 0.0 and tcpa[0] == 10.0
