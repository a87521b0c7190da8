"""A crowded site for engine tests: trackers on straight legs, GNSS jumps, SOS and button presses.

Run as a module it prints the alarm events of the crowd as JSON (used to compare the compiled engine
with the pure-Python fallback in another process).
"""

from __future__ import annotations

import json
import math
import random
from dataclasses import asdict

from tocsin.minesafe.engine import Engine
from tocsin.minesafe.model import AlarmEvent, Kind, Report

KINDS = (Kind.PERSON, Kind.PERSON, Kind.HAUL_TRUCK, Kind.LIGHT_VEHICLE, Kind.EXCAVATOR)


def crowd(n: int = 120, ticks: int = 40, seed: int = 5, size: float = 400.0) -> list[list[Report]]:
    """Reports tick by tick (4 Hz) of ``n`` trackers on a ``size`` metre square site, in shuffled order."""
    rng = random.Random(seed)
    kinds = [rng.choice(KINDS) for _ in range(n)]
    top = {Kind.PERSON: 1.5, Kind.HAUL_TRUCK: 12.0, Kind.LIGHT_VEHICLE: 15.0, Kind.EXCAVATOR: 1.0}
    pos = [[rng.uniform(0, size), rng.uniform(0, size)] for _ in range(n)]
    speed = [rng.uniform(0, top[k]) for k in kinds]
    angle = [rng.uniform(0, 2 * math.pi) for _ in range(n)]
    ticks_out = []
    for tick in range(ticks):
        t = tick * 0.25
        batch = []
        for i in range(n):
            pos[i][0] = min(max(pos[i][0] + speed[i] * math.sin(angle[i]) * 0.25, 0.0), size)
            pos[i][1] = min(max(pos[i][1] + speed[i] * math.cos(angle[i]) * 0.25, 0.0), size)
            jump = 200.0 if rng.random() < 0.003 else 0.0
            batch.append(
                Report(
                    t,
                    f"c:{i}",
                    kinds[i],
                    pos[i][0] + jump,
                    pos[i][1],
                    speed[i],
                    sos=kinds[i] is Kind.PERSON and 10 <= tick < 20 and i % 17 == 0,
                    button=rng.random() < 0.01,
                )
            )
        rng.shuffle(batch)
        ticks_out.append(batch)
    return ticks_out


def as_json(events: list[AlarmEvent]) -> str:
    return json.dumps([asdict(e) for e in events])


def main() -> None:
    engine = Engine()
    events = []
    for batch in crowd():
        events += engine.ingest_many(batch)
    print(as_json(events))


if __name__ == "__main__":
    main()
