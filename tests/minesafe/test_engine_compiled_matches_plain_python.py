"""The compiled kernels and the pure-Python fallback (TOCSIN_MINESAFE_JIT=0) raise the same alarms: the
fallback runs the very same functions uncompiled."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

import tocsin
from tests.minesafe.crowd import as_json, crowd
from tocsin.minesafe import kernels, rules
from tocsin.minesafe.engine import Engine

ROOT = Path(__file__).resolve().parents[2]
distance = st.floats(0, 1000)
speed = st.floats(0, 30)


@settings(max_examples=300, deadline=None)
@given(
    d=distance,
    cpa=distance,
    tcpa=st.floats(-100, 100),
    v=speed,
    a=st.floats(0.5, 4),
    stretch=st.sampled_from([1.0, 1.3]),
)
def test_compiled_level_matches_the_rule(d, cpa, tcpa, v, a, stretch) -> None:
    p = Engine().rule_params
    assert kernels._level(d, cpa, tcpa, v, a, stretch, p) == rules.level(d, cpa, tcpa, v, a, stretch, p)


def test_a_crowd_raises_the_same_alarms_without_numba() -> None:
    engine = Engine()
    events = [event for batch in crowd() for event in engine.ingest_many(batch)]
    path = os.pathsep.join(
        [str(ROOT), str(Path(tocsin.__file__).parents[1]), os.environ.get("PYTHONPATH", "")]
    )
    env = {**os.environ, "TOCSIN_MINESAFE_JIT": "0", "PYTHONPATH": path}
    fallback = subprocess.run(
        [sys.executable, "-m", "tests.minesafe.crowd"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    assert fallback.stdout.strip() == as_json(events)
