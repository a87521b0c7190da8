"""The engine's hot loop, compiled: the spatial grid and the search for new pairs over a batch of reports.

Per-slot state lives in preallocated arrays; the grid is a hash table of cells (site, column, row) with
a doubly linked list of slots per cell, all in integer arrays. ``search_batch`` takes a batch of updated
fixes in report order, writes each one, moves it in the grid and lists the trackers around it that enter
a level with it, so one call serves many reports and no Python runs per candidate.

With numba (a pinned dependency) the functions are compiled on first use and cached on disk; without it,
or with ``TOCSIN_MINESAFE_JIT=0``, the very same functions run as plain Python (slow, but the same
arithmetic in the same order: the same alarms; the scenario tests run both ways). Pure computation.
"""

from __future__ import annotations

import math
import os
from typing import Any

import numpy as np

from tocsin.minesafe import rules

EMPTY = -1
# Columns of the per-slot state and of a batch's rows (rows add the search radius).
T, X, Y, VX, VY, SPEED, RADIUS = range(7)
STATE_COLUMNS = 6

njit: Any
try:
    if os.environ.get("TOCSIN_MINESAFE_JIT", "1") == "0":
        raise ImportError("compiled kernels turned off")
    from numba import njit
except ImportError:  # the same functions then run as plain Python
    njit = None


def _compiled(function: Any) -> Any:
    return function if njit is None else njit(cache=True, nogil=True)(function)


COMPILED = njit is not None
_relative = _compiled(rules.relative)
_may_pass_near = _compiled(rules.may_pass_near)
_level = _compiled(rules.level)


def _find_cell(keys: np.ndarray, site: int, cx: int, cy: int) -> int:
    """Bucket of a cell: where it is, or the empty bucket where it would go (linear probing)."""
    mask = keys.shape[0] - 1
    bucket = ((site * 73856093) ^ (cx * 19349663) ^ (cy * 83492791)) & mask
    while True:
        if keys[bucket, 0] == EMPTY or (
            keys[bucket, 0] == site and keys[bucket, 1] == cx and keys[bucket, 2] == cy
        ):
            return bucket
        bucket = (bucket + 1) & mask


def _place(
    slot: int,
    site: int,
    x: float,
    y: float,
    cell_m: float,
    keys: np.ndarray,
    head: np.ndarray,
    links: np.ndarray,
    used: np.ndarray,
) -> None:
    """Put a slot in the cell of (x, y), leaving its old cell. ``links[slot]`` = (bucket, prev, next).

    Cells are never removed from the table (an empty one just has no head); the engine rebuilds the
    table before it fills up.
    """
    cx, cy = math.floor(x / cell_m), math.floor(y / cell_m)
    bucket = links[slot, 0]
    if bucket != EMPTY:
        if keys[bucket, 1] == cx and keys[bucket, 2] == cy:
            return
        prev, following = links[slot, 1], links[slot, 2]
        if prev != EMPTY:
            links[prev, 2] = following
        else:
            head[bucket] = following
        if following != EMPTY:
            links[following, 1] = prev
    bucket = _find_cell(keys, site, cx, cy)
    if keys[bucket, 0] == EMPTY:
        keys[bucket, 0], keys[bucket, 1], keys[bucket, 2] = site, cx, cy
        used[0] += 1
    first = head[bucket]
    links[slot, 0], links[slot, 1], links[slot, 2] = bucket, EMPTY, first
    if first != EMPTY:
        links[first, 1] = slot
    head[bucket] = slot


def _pair_hit(
    me: int,
    other: int,
    row: np.ndarray,
    state: np.ndarray,
    person: np.ndarray,
    decel: np.ndarray,
    p: tuple[float, ...],
) -> tuple[int, float, float, float, float]:
    """Entry level of (me, other) and its geometry; level 0 when the pair cannot alarm now."""
    t, x, y, vx, vy = row[T], row[X], row[Y], row[VX], row[VY]
    bt, bx, by, bvx, bvy = (
        state[other, T],
        state[other, X],
        state[other, Y],
        state[other, VX],
        state[other, VY],
    )
    if not _may_pass_near(t, x, y, vx, vy, bt, bx, by, bvx, bvy, p[rules.MAX_AGE], p[rules.NEAR] + 1e-6):
        return 0, 0.0, 0.0, 0.0, 0.0
    d, cpa, tcpa, dv = _relative(t, x, y, vx, vy, bt, bx, by, bvx, bvy, p[rules.MAX_AGE])
    if cpa >= p[rules.NEAR]:
        return 0, 0.0, 0.0, 0.0, 0.0
    if person[me]:
        v, a = state[other, SPEED], decel[other]
    elif person[other]:
        v, a = row[SPEED], decel[me]
    else:
        v, a = max(row[SPEED], state[other, SPEED]), min(decel[me], decel[other])
    return _level(d, cpa, tcpa, v, a, 1.0, p), d, cpa, tcpa, dv


def search_batch(
    start: int,
    found: int,
    slots: np.ndarray,
    only: np.ndarray,
    rows: np.ndarray,
    state: np.ndarray,
    person: np.ndarray,
    decel: np.ndarray,
    site: np.ndarray,
    keys: np.ndarray,
    head: np.ndarray,
    links: np.ndarray,
    used: np.ndarray,
    p: tuple[float, ...],
    out_row: np.ndarray,
    out_other: np.ndarray,
    out_geometry: np.ndarray,
) -> tuple[int, int]:
    """From row ``start`` on, in order: write the row's fix, move it in the grid, then list every
    tracker within its search radius (grid window; or only slot ``only[k]`` when that is ≥ 0, none when
    it is -2) that enters a level with it. Hits go to ``out_*`` from index ``found``.

    Returns (rows done, hits). Fewer rows than given means the output is full: the caller grows it and
    calls again from there (the interrupted row's hits are dropped and redone; rewriting its fix is
    harmless).
    """
    cell_m = p[rules.CELL_M]
    capacity = out_row.shape[0]
    for k in range(start, slots.shape[0]):
        me = slots[k]
        row = rows[k]
        for c in range(STATE_COLUMNS):
            state[me, c] = row[c]
        _place(me, site[me], row[X], row[Y], cell_m, keys, head, links, used)
        begin = found
        if only[k] != EMPTY:
            other = only[k]
            if other >= 0 and other != me and not (person[me] and person[other]):
                hit, d, cpa, tcpa, dv = _pair_hit(me, other, row, state, person, decel, p)
                if hit:
                    if found == capacity:
                        return k, begin
                    out_row[found], out_other[found] = k, other
                    out_geometry[found, 0], out_geometry[found, 1] = d, cpa
                    out_geometry[found, 2], out_geometry[found, 3] = tcpa, dv
                    found += 1
            continue
        bucket = links[me, 0]
        cx, cy, span = keys[bucket, 1], keys[bucket, 2], math.ceil(row[RADIUS] / cell_m)
        for i in range(cx - span, cx + span + 1):
            for j in range(cy - span, cy + span + 1):
                other = head[_find_cell(keys, site[me], i, j)]
                while other != EMPTY:
                    if other != me and not (person[me] and person[other]):
                        hit, d, cpa, tcpa, dv = _pair_hit(me, other, row, state, person, decel, p)
                        if hit:
                            if found == capacity:
                                return k, begin
                            out_row[found], out_other[found] = k, other
                            out_geometry[found, 0], out_geometry[found, 1] = d, cpa
                            out_geometry[found, 2], out_geometry[found, 3] = tcpa, dv
                            found += 1
                    other = links[other, 2]
    return slots.shape[0], found


def rebuild_grid(
    count: int,
    state: np.ndarray,
    site: np.ndarray,
    cell_m: float,
    keys: np.ndarray,
    head: np.ndarray,
    links: np.ndarray,
    used: np.ndarray,
) -> None:
    """Place every slot already in the grid again, into fresh (empty) ``keys`` and ``head``."""
    for slot in range(count):
        if links[slot, 0] != EMPTY:
            links[slot, 0] = EMPTY
            _place(slot, site[slot], state[slot, X], state[slot, Y], cell_m, keys, head, links, used)


_find_cell = _compiled(_find_cell)
_place = _compiled(_place)
_pair_hit = _compiled(_pair_hit)
search_batch = _compiled(search_batch)
rebuild_grid = _compiled(rebuild_grid)


def new_table(buckets: int) -> tuple[np.ndarray, np.ndarray]:
    """Empty grid table of ``buckets`` cells (a power of two): keys (site, column, row) and heads."""
    return np.full((buckets, 3), EMPTY, dtype=np.int64), np.full(buckets, EMPTY, dtype=np.int64)
