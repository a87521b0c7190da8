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
# Columns of the per-slot arrays: ``state`` (floats) holds the last fix and the braking deceleration,
# ``slots`` (integers) the grid links (cell bucket, previous and next slot in the cell), site and
# "is a person"; ``table`` is the grid's hash table: a cell's key (site, column, row) and its first slot.
T, X, Y, VX, VY, SPEED, DECEL = range(7)
FIX_COLUMNS = 6  # T..SPEED: what a report changes
CELL, PREV, NEXT, SITE, PERSON = range(5)
KEY_SITE, KEY_X, KEY_Y, HEAD = range(4)
# Columns of a batch's rows: slot, search scope (-1: the grid window; a slot: only it; -2: none), the
# fix (T..SPEED), and the search radius. The rows come flat, one after the other in one 1-D array (the
# engine extends one Python list per report, and a flat list converts to an array at half the cost).
ROW_SLOT, ROW_ONLY, ROW_FIX, ROW_RADIUS = 0, 1, 2, 8
ROW_COLUMNS = 9

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


def _find_cell(table: np.ndarray, site: int, cx: int, cy: int) -> int:
    """Bucket of a cell: where it is, or the empty bucket where it would go (linear probing).

    The hash takes tiles of 4 × 4 cells: a tile's cells sit in 16 neighbouring buckets, so a search
    window reads a few runs of memory instead of one scattered bucket per cell (with 100,000 trackers
    the table is megabytes, and scattered reads were most of the search's time).
    """
    mask = table.shape[0] - 1
    tile = (site * 73856093) ^ ((cx >> 2) * 19349663) ^ ((cy >> 2) * 83492791)
    bucket = ((tile << 4) | ((cx & 3) << 2) | (cy & 3)) & mask
    while True:
        key_site = table[bucket, KEY_SITE]
        if key_site == EMPTY or (
            key_site == site and table[bucket, KEY_X] == cx and table[bucket, KEY_Y] == cy
        ):
            return bucket
        bucket = (bucket + 1) & mask


def _place(
    slot: int, x: float, y: float, cell_m: float, slots: np.ndarray, table: np.ndarray, used: np.ndarray
) -> None:
    """Put a slot in the cell of (x, y), leaving its old cell (doubly linked list per cell).

    Cells are never removed from the table (an empty one just has no head); the engine rebuilds the
    table before it fills up.
    """
    cx, cy = math.floor(x / cell_m), math.floor(y / cell_m)
    bucket = slots[slot, CELL]
    if bucket != EMPTY:
        if table[bucket, KEY_X] == cx and table[bucket, KEY_Y] == cy:
            return
        prev, following = slots[slot, PREV], slots[slot, NEXT]
        if prev != EMPTY:
            slots[prev, NEXT] = following
        else:
            table[bucket, HEAD] = following
        if following != EMPTY:
            slots[following, PREV] = prev
    site = slots[slot, SITE]
    bucket = _find_cell(table, site, cx, cy)
    if table[bucket, KEY_SITE] == EMPTY:
        table[bucket, KEY_SITE], table[bucket, KEY_X], table[bucket, KEY_Y] = site, cx, cy
        used[0] += 1
    first = table[bucket, HEAD]
    slots[slot, CELL], slots[slot, PREV], slots[slot, NEXT] = bucket, EMPTY, first
    if first != EMPTY:
        slots[first, PREV] = slot
    table[bucket, HEAD] = slot


def _pair_hit(
    me: int,
    other: int,
    rows: np.ndarray,
    fix: int,
    state: np.ndarray,
    slots: np.ndarray,
    p: tuple[float, ...],
) -> tuple[int, float, float, float, float]:
    """Entry level of (me, other) and its geometry (me's fix at ``rows[fix:]``); level 0 when the pair
    cannot alarm now."""
    t, x, y = rows[fix + T], rows[fix + X], rows[fix + Y]
    vx, vy, speed = rows[fix + VX], rows[fix + VY], rows[fix + SPEED]
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
    if slots[me, PERSON]:
        v, a = state[other, SPEED], state[other, DECEL]
    elif slots[other, PERSON]:
        v, a = speed, state[me, DECEL]
    else:
        v, a = max(speed, state[other, SPEED]), min(state[me, DECEL], state[other, DECEL])
    return _level(d, cpa, tcpa, v, a, 1.0, p), d, cpa, tcpa, dv


def search_batch(
    start: int,
    saved: int,
    found: int,
    count: int,
    rows: np.ndarray,
    before: np.ndarray,
    state: np.ndarray,
    slots: np.ndarray,
    table: np.ndarray,
    used: np.ndarray,
    p: tuple[float, ...],
    out_ids: np.ndarray,
    out_geometry: np.ndarray,
) -> tuple[int, int]:
    """From row ``start`` to ``count`` of the flat ``rows``, in order: keep the slot's previous fix in
    ``before``, write the row's fix, move it in the grid, then list every tracker within its search
    radius (the grid window, or the one slot of its scope) that enters a level with it: (row, slot) in
    ``out_ids`` and (distance, CPA, TCPA, relative speed) in ``out_geometry``, from index ``found``.

    Returns (rows done, hits). Fewer rows than given means the output is full: the caller grows it and
    calls again from there with ``saved`` = rows done + 1 (the interrupted row's hits are dropped and
    redone, its fix written again to the same value; its ``before``, saved in the first pass, is kept).
    """
    cell_m = p[rules.CELL_M]
    capacity = out_ids.shape[0]
    for k in range(start, count):
        base = k * ROW_COLUMNS
        fix = base + ROW_FIX
        me, only = int(rows[base + ROW_SLOT]), int(rows[base + ROW_ONLY])
        if k >= saved:
            for c in range(FIX_COLUMNS):
                before[k, c] = state[me, c]
        for c in range(FIX_COLUMNS):
            state[me, c] = rows[fix + c]
        _place(me, rows[fix + X], rows[fix + Y], cell_m, slots, table, used)
        begin = found
        if only != EMPTY:
            if only >= 0 and only != me and not (slots[me, PERSON] and slots[only, PERSON]):
                hit, d, cpa, tcpa, dv = _pair_hit(me, only, rows, fix, state, slots, p)
                if hit:
                    if found == capacity:
                        return k, begin
                    out_ids[found, 0], out_ids[found, 1] = k, only
                    out_geometry[found, 0], out_geometry[found, 1] = d, cpa
                    out_geometry[found, 2], out_geometry[found, 3] = tcpa, dv
                    found += 1
            continue
        bucket = slots[me, CELL]
        cx, cy, span = table[bucket, KEY_X], table[bucket, KEY_Y], math.ceil(rows[base + ROW_RADIUS] / cell_m)
        site, person = slots[me, SITE], slots[me, PERSON]
        for i in range(cx - span, cx + span + 1):
            for j in range(cy - span, cy + span + 1):
                other = table[_find_cell(table, site, i, j), HEAD]
                while other != EMPTY:
                    if other != me and not (person and slots[other, PERSON]):
                        hit, d, cpa, tcpa, dv = _pair_hit(me, other, rows, fix, state, slots, p)
                        if hit:
                            if found == capacity:
                                return k, begin
                            out_ids[found, 0], out_ids[found, 1] = k, other
                            out_geometry[found, 0], out_geometry[found, 1] = d, cpa
                            out_geometry[found, 2], out_geometry[found, 3] = tcpa, dv
                            found += 1
                    other = slots[other, NEXT]
    return count, found


def rebuild_grid(
    count: int, state: np.ndarray, cell_m: float, slots: np.ndarray, table: np.ndarray, used: np.ndarray
) -> None:
    """Place every slot already in the grid again, into a fresh (empty) ``table``."""
    for slot in range(count):
        if slots[slot, CELL] != EMPTY:
            slots[slot, CELL] = EMPTY
            _place(slot, state[slot, X], state[slot, Y], cell_m, slots, table, used)


_find_cell = _compiled(_find_cell)
_place = _compiled(_place)
_pair_hit = _compiled(_pair_hit)
search_batch = _compiled(search_batch)
rebuild_grid = _compiled(rebuild_grid)


def bind(function: Any, *example: Any) -> Any:
    """``function`` for arguments of the types of ``example``. Compiled: its machine code for those types
    (numba's ``Dispatcher.compile``), called without numba's type dispatch (~0.3 µs a call, as much as
    checking a few reports), so every call must pass arguments of exactly those types; else the function."""
    if njit is None:
        return function
    from numba import typeof

    return function.compile(tuple(typeof(value) for value in example))


def new_table(buckets: int) -> np.ndarray:
    """Empty grid hash table of ``buckets`` cells (a power of two)."""
    return np.full((buckets, 4), EMPTY, dtype=np.int64)
