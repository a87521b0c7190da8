"""The engine's one hot loop, compiled: which neighbours of a report may pass within the near ring.

With numba (a pinned dependency) the loop is compiled to machine code on first use and cached on disk;
without it, or with ``TOCSIN_MINESAFE_JIT=0``, the same answer comes from numpy calls (the fallback the
scenario tests also run, so both give the same alarms). Pure computation, no I/O.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

njit: Any
try:
    if os.environ.get("TOCSIN_MINESAFE_JIT", "1") == "0":
        raise ImportError("compiled kernels turned off")
    from numba import njit
except ImportError:  # the numpy fallback below gives the same answers
    njit = None


def passing_close_numpy(
    cand: np.ndarray,
    px: np.ndarray,
    py: np.ndarray,
    pvx: np.ndarray,
    pvy: np.ndarray,
    pt: np.ndarray,
    own: tuple[float, float, float, float, float],
    near: float,
    max_age: float,
) -> np.ndarray:
    """The slots among ``cand`` whose line of relative motion passes within ``near`` of the report
    (|r × w| < near·|w|), or that are within it now; each other tracker's fix is moved along its
    velocity to the report's time, by at most ``max_age`` seconds. A superset of CPA < near."""
    t, x, y, vx, vy = own
    age = np.clip(t - pt[cand], -max_age, max_age)
    ovx, ovy = pvx[cand], pvy[cand]
    rx = px[cand] + ovx * age - x
    ry = py[cand] + ovy * age - y
    wx, wy = ovx - vx, ovy - vy
    cross = rx * wy - ry * wx
    near2 = near * near
    hit = (cross * cross < near2 * (wx * wx + wy * wy)) | (rx * rx + ry * ry < near2)
    return cand[hit]


def _passing_close_loop(
    cand: np.ndarray,
    px: np.ndarray,
    py: np.ndarray,
    pvx: np.ndarray,
    pvy: np.ndarray,
    pt: np.ndarray,
    t: float,
    x: float,
    y: float,
    vx: float,
    vy: float,
    near: float,
    max_age: float,
) -> np.ndarray:
    """``passing_close_numpy`` as one loop (what numba compiles), same arithmetic in the same order."""
    out = np.empty(cand.shape[0], dtype=np.intp)
    found = 0
    near2 = near * near
    for k in range(cand.shape[0]):
        slot = cand[k]
        age = t - pt[slot]
        age = min(max(age, -max_age), max_age)
        ovx, ovy = pvx[slot], pvy[slot]
        rx = px[slot] + ovx * age - x
        ry = py[slot] + ovy * age - y
        wx, wy = ovx - vx, ovy - vy
        cross = rx * wy - ry * wx
        if cross * cross < near2 * (wx * wx + wy * wy) or rx * rx + ry * ry < near2:
            out[found] = slot
            found += 1
    return out[:found]


if njit is not None:
    _compiled = njit(cache=True, nogil=True)(_passing_close_loop)

    def passing_close(
        cand: np.ndarray,
        px: np.ndarray,
        py: np.ndarray,
        pvx: np.ndarray,
        pvy: np.ndarray,
        pt: np.ndarray,
        own: tuple[float, float, float, float, float],
        near: float,
        max_age: float,
    ) -> np.ndarray:
        """``passing_close_numpy``, compiled."""
        t, x, y, vx, vy = own
        return _compiled(cand, px, py, pvx, pvy, pt, t, x, y, vx, vy, near, max_age)

    COMPILED = True
else:
    passing_close = passing_close_numpy
    COMPILED = False
