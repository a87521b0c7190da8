"""The pair rules of the engine as plain functions of floats: geometry of a pair and its alarm level.

Compact on purpose: the engine's Python code calls them for pairs already alarming, and ``kernels.py``
compiles the very same functions (numba) for the search of new pairs, so both take the same decisions
with the same arithmetic. Square roots, not ``math.hypot``: IEEE square roots are correctly rounded in
Python and in compiled code alike, so the compiled kernels and the pure-Python fallback agree to the bit.
"""

from __future__ import annotations

import math

NONE, WARNING, DANGER = 0, 1, 2

# Positions in the tuple of thresholds the rules take (``Engine.rule_params`` builds it from the config).
(
    NEAR,
    MAX_AGE,
    MOVING_SPEED,
    REACTION_S,
    DANGER_R0,
    WARNING_R0,
    WARNING_SCALE,
    DANGER_MARGIN_S,
    WARNING_MARGIN_S,
    HORIZON_MAX_S,
    CELL_M,
) = range(11)


def relative(
    t: float,
    x: float,
    y: float,
    vx: float,
    vy: float,
    bt: float,
    bx: float,
    by: float,
    bvx: float,
    bvy: float,
    max_age: float,
) -> tuple[float, float, float, float]:
    """Distance, closest point of approach (CPA), time to it (TCPA) and relative speed of b seen from a.

    Constant velocity, as AIS collision avoidance does: TCPA = -(r·w)/|w|²; CPA is the distance at
    max(TCPA, 0), so a pair already separating has CPA = distance now (TCPA negative). b's last fix is
    moved along its velocity to a's time ``t``, by at most ``max_age`` seconds.
    """
    age = t - bt
    age = -max_age if age < -max_age else max_age if age > max_age else age
    rx = bx + bvx * age - x
    ry = by + bvy * age - y
    wx, wy = bvx - vx, bvy - vy
    w2 = wx * wx + wy * wy
    tcpa = -(rx * wx + ry * wy) / w2 if w2 > 1e-9 else 0.0
    ahead = tcpa if tcpa > 0.0 else 0.0
    ex, ey = rx + wx * ahead, ry + wy * ahead
    return math.sqrt(rx * rx + ry * ry), math.sqrt(ex * ex + ey * ey), tcpa, math.sqrt(w2)


def may_pass_near(
    t: float,
    x: float,
    y: float,
    vx: float,
    vy: float,
    bt: float,
    bx: float,
    by: float,
    bvx: float,
    bvy: float,
    max_age: float,
    near: float,
) -> bool:
    """Cheap test before ``relative``: b's line of relative motion passes within ``near`` of a
    (|r × w| < near·|w|), or b is within it now. A superset of CPA < near (``near`` carries the slack)."""
    age = t - bt
    age = -max_age if age < -max_age else max_age if age > max_age else age
    rx = bx + bvx * age - x
    ry = by + bvy * age - y
    wx, wy = bvx - vx, bvy - vy
    cross = rx * wy - ry * wx
    near2 = near * near
    return rx * rx + ry * ry < near2 or cross * cross < near2 * (wx * wx + wy * wy)


def level(d: float, cpa: float, tcpa: float, v: float, a: float, stretch: float, p: tuple[float, ...]) -> int:
    """Level of a pair (0, WARNING=1, DANGER=2); radii and horizons stretched by ``stretch``.

    ``stretch`` is 1 to enter a level and exit_factor to stay in it. A level holds when the pair is
    inside r0 now, or will pass within r0 (CPA) either within the stopping time plus margin (TCPA
    horizon) or while already inside the stopping radius r = r0 + v·t_react + v²/2a (closing slowly on
    someone the vehicle could not stop for). DANGER needs the vehicle to move. ``v`` and ``a``: speed
    and braking of the vehicle whose stopping sets the radii. The two rings are written out in full
    (no helper): the compiled kernels call this function as it is.
    """
    stop_d = v * p[REACTION_S] + v * v / (2 * a)
    stop_t = p[REACTION_S] + v / a
    if v >= p[MOVING_SPEED]:
        r0s = p[DANGER_R0] * stretch
        if d < r0s:
            return DANGER
        if cpa < r0s and tcpa >= 0:
            horizon = min(stop_t + p[DANGER_MARGIN_S], p[HORIZON_MAX_S]) * stretch
            if tcpa <= horizon or d < r0s + stop_d * stretch:
                return DANGER
    scale = p[WARNING_SCALE]
    r0s = p[WARNING_R0] * stretch
    if d < r0s:
        return WARNING
    if cpa < r0s and tcpa >= 0:
        horizon = min(scale * stop_t + p[WARNING_MARGIN_S], p[HORIZON_MAX_S]) * stretch
        if tcpa <= horizon or d < r0s + scale * stop_d * stretch:
            return WARNING
    return NONE
