"""The grid finds every pair an all-pairs check would alarm (the spatial index never misses one)."""

import itertools
import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from tocsin.minesafe.engine import Engine, closest_approach
from tocsin.minesafe.model import Kind, Report

KINDS = [Kind.PERSON, Kind.HAUL_TRUCK, Kind.LIGHT_VEHICLE, Kind.EXCAVATOR]
tracker = st.tuples(
    st.sampled_from(KINDS), st.floats(0, 600), st.floats(0, 400), st.floats(0, 15), st.floats(0, 359)
)


def brute_level(engine: Engine, a: tuple, b: tuple, t: float, stretch: float) -> int:
    """Level of one pair by the engine's rule, computed without the grid."""
    (ka, xa, ya, sa, ha), (kb, xb, yb, sb, hb) = a, b
    if ka.is_person and kb.is_person:
        return 0
    va = (
        np.array([sa * math.sin(math.radians(ha)), sa * math.cos(math.radians(ha))])
        if sa >= 0.5
        else np.zeros(2)
    )
    vb = (
        np.array([sb * math.sin(math.radians(hb)), sb * math.cos(math.radians(hb))])
        if sb >= 0.5
        else np.zeros(2)
    )
    pa, pb = np.array([xa, ya]) + va * t, np.array([xb, yb]) + vb * t
    r, w = pb - pa, vb - va
    d, cpa, tcpa = closest_approach(*(np.array([v]) for v in (r[0], r[1], w[0], w[1])))
    cfg = engine.config
    vehicles = [(s, cfg.decel[k.value]) for k, s in ((ka, sa), (kb, sb)) if not k.is_person]
    speed, decel = max(s for s, _ in vehicles), min(a for _, a in vehicles)
    return engine.level(float(d[0]), float(cpa[0]), float(tcpa[0]), speed, decel, stretch)


def place(engine: Engine, trackers: list[tuple], t: float) -> None:
    for i, (kind, x, y, speed, heading) in enumerate(trackers):
        h = math.radians(heading)
        shown = speed if speed >= 0.5 else 0.0
        engine.ingest(
            Report(t, str(i), kind, x + shown * math.sin(h) * t, y + shown * math.cos(h) * t, speed, heading)
        )


@settings(max_examples=40, deadline=None)
@given(st.lists(tracker, min_size=2, max_size=25))
def test_grid_finds_every_pair_that_all_pairs_would_alarm(raw: list[tuple]) -> None:
    engine = Engine()
    top = engine.config.max_speed
    trackers = [(k, x, y, min(s, top[k.value]), h) for k, x, y, s, h in raw]
    place(engine, trackers, 0.0)
    place(engine, trackers, 0.25)
    found = {tuple(sorted(ids)): level for ids, level in engine.threats().items()}
    for (i, a), (j, b) in itertools.combinations(enumerate(trackers), 2):
        key = tuple(sorted((str(i), str(j))))
        level = {"WARNING": 1, "DANGER": 2}.get(found.get(key, ""), 0)
        low = brute_level(engine, a, b, 0.25, 1.0)
        high = max(
            brute_level(engine, a, b, 0.25, engine.config.exit_factor), brute_level(engine, a, b, 0.0, 1.0)
        )
        assert low <= level <= high, (key, low, level, high)
