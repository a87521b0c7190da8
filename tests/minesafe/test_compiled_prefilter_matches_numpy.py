"""The compiled neighbour prefilter and its numpy fallback pick the same candidates, so a deployment
without numba raises the same alarms (the scenario tests also run with TOCSIN_MINESAFE_JIT=0)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from tocsin.minesafe import kernels

coordinate = st.floats(-3000, 3000, allow_nan=False)
velocity = st.floats(-30, 30, allow_nan=False)


@settings(max_examples=200, deadline=None)
@given(
    n=st.integers(1, 60),
    data=st.data(),
    own=st.tuples(st.floats(0, 100), coordinate, coordinate, velocity, velocity),
    near=st.floats(0.5, 50),
)
def test_both_prefilters_keep_the_same_slots(n, data, own, near):
    def column(elements):
        return data.draw(arrays(np.float64, n, elements=elements))

    px, py, pvx, pvy = column(coordinate), column(coordinate), column(velocity), column(velocity)
    pt = column(st.floats(0, 100))
    cand = np.array(sorted(data.draw(st.sets(st.integers(0, n - 1), min_size=1))), dtype=np.intp)
    fallback = kernels.passing_close_numpy(cand, px, py, pvx, pvy, pt, own, near, 5.0)
    fast = kernels.passing_close(cand, px, py, pvx, pvy, pt, own, near, 5.0)
    assert fast.tolist() == fallback.tolist()


def test_the_loop_itself_matches_numpy_without_compiling():
    rng = np.random.default_rng(4)
    px, py = rng.uniform(0, 500, 300), rng.uniform(0, 500, 300)
    pvx, pvy, pt = rng.normal(0, 8, 300), rng.normal(0, 8, 300), rng.uniform(0, 2, 300)
    cand = np.arange(300, dtype=np.intp)
    loop = kernels._passing_close_loop(cand, px, py, pvx, pvy, pt, 1.0, 250.0, 250.0, 5.0, 0.0, 13.0, 5.0)
    numpy = kernels.passing_close_numpy(cand, px, py, pvx, pvy, pt, (1.0, 250.0, 250.0, 5.0, 0.0), 13.0, 5.0)
    assert loop.tolist() == numpy.tolist() and len(loop) > 0
