"""Writes the engine's scenario replay files (deterministic): ``python make_scenarios.py``.

Each scenario is a set of movers (keyframes in site metres, interpolated linearly) sampled at their
report rate; vehicles report at 4 Hz, wearables at 1 Hz. The files are committed; tests only read them.
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).parent
VEHICLE_DT = 0.25
PERSON_DT = 1.0


@dataclass
class Mover:
    """A tracker following keyframes (t, x, y); extra fields per report come from ``extra(t)``."""

    id: int
    kind: str
    keys: list[tuple[float, float, float]]
    heading: bool = True
    dt: float | None = None
    extra: Callable[[float], dict[str, object]] = field(default=lambda t: {})

    def state(self, t: float) -> tuple[float, float, float, float | None]:
        """(x, y, speed, heading) at t, holding the first and last keyframe outside their span."""
        keys = self.keys
        if t <= keys[0][0]:
            return keys[0][1], keys[0][2], 0.0, None
        for (t0, x0, y0), (t1, x1, y1) in zip(keys, keys[1:], strict=False):
            if t <= t1:
                f = (t - t0) / (t1 - t0)
                dx, dy = x1 - x0, y1 - y0
                speed = math.hypot(dx, dy) / (t1 - t0)
                heading = math.degrees(math.atan2(dx, dy)) % 360 if speed > 0 else None
                return x0 + f * dx, y0 + f * dy, speed, heading
        return keys[-1][1], keys[-1][2], 0.0, None

    def reports(self, start: float, end: float) -> list[dict[str, object]]:
        step = self.dt or (PERSON_DT if self.kind == "person" else VEHICLE_DT)
        out = []
        for i in range(int(round((end - start) / step)) + 1):
            t = round(start + i * step, 3)
            x, y, speed, heading = self.state(t)
            line: dict[str, object] = {
                "t": t,
                "id": self.id,
                "kind": self.kind,
                "x": round(x, 2),
                "y": round(y, 2),
                "speed": round(speed, 2),
            }
            if self.heading and heading is not None:
                line["heading"] = round(heading, 1)
            line.update(self.extra(t))
            out.append(line)
        return out


def straight(
    t0: float, x0: float, y0: float, vx: float, vy: float, t1: float
) -> list[tuple[float, float, float]]:
    return [(t0, x0, y0), (t1, x0 + vx * (t1 - t0), y0 + vy * (t1 - t0))]


def accelerate(
    t0: float, x0: float, y0: float, a: float, v_max: float, t1: float
) -> list[tuple[float, float, float]]:
    """Keyframes every 0.25 s of a start eastwards at ``a`` m/s² up to ``v_max``."""
    keys, x, v, t = [(t0, x0, y0)], x0, 0.0, t0
    while t < t1:
        v = min(v + a * VEHICLE_DT, v_max)
        x += v * VEHICLE_DT
        t = round(t + VEHICLE_DT, 3)
        keys.append((t, x, y0))
    return keys


def run(movers: list[Mover], start: float, end: float) -> list[dict[str, object]]:
    lines = [line for mover in movers for line in mover.reports(start, end)]
    return sorted(lines, key=lambda line: (line["t"], line["id"]))


def head_on() -> list[dict[str, object]]:
    """A haul truck at 10 m/s (no heading in its packets) meets a walker coming the other way."""
    truck = Mover(1, "haul_truck", straight(0, 400, 0, -10, 0, 40), heading=False)
    walker = Mover(2, "person", straight(0, 0, 1, 1.4, 0, 40))
    return run([truck, walker], 0, 34)


def crossing() -> list[dict[str, object]]:
    """A truck northbound and a light vehicle eastbound reach the same intersection at t = 30 s."""
    truck = Mover(1, "haul_truck", straight(0, 0, -240, 0, 8, 40))
    car = Mover(2, "light_vehicle", straight(0, -360, 0, 12, 0, 40))
    return run([truck, car], 0, 29)


def parallel() -> list[dict[str, object]]:
    """Two trucks in convoy 40 m apart in one lane, a third in the other lane (12 m over) coming back."""
    lead = Mover(1, "haul_truck", straight(0, 40, 0, 10, 0, 60))
    follow = Mover(2, "haul_truck", straight(0, 0, 0, 10, 0, 60))
    oncoming = Mover(3, "haul_truck", straight(0, 800, 12, -10, 0, 60))
    return run([lead, follow, oncoming], 0, 60)


def overtaking() -> list[dict[str, object]]:
    """A clean overtake in the other lane (y = 0/12), and a rear-end course in one lane (y = 500)."""
    slow = Mover(1, "haul_truck", straight(0, 200, 0, 8, 0, 60))
    fast = Mover(2, "light_vehicle", [(0, 0, 12), (30, 480, 12), (36, 576, 0), (60, 960, 0)])
    slow2 = Mover(3, "haul_truck", straight(0, 200, 500, 6, 0, 60))
    fast2 = Mover(4, "haul_truck", straight(0, 0, 500, 12, 0, 60))
    return run([slow, fast, slow2, fast2], 0, 32)


def parked() -> list[dict[str, object]]:
    """A walker passes a parked truck 6 m to its side."""
    truck = Mover(1, "haul_truck", [(0, 0, 0)])
    walker = Mover(2, "person", straight(0, -50, 6, 1.4, 0, 80))
    return run([truck, walker], 0, 75)


def driver_boards() -> list[dict[str, object]]:
    """The driver walks to his parked truck, presses the button at 45 s, boards; the truck leaves at 50 s."""
    drive = accelerate(50, 0, 0, 1.0, 8.0, 90)
    truck = Mover(1, "haul_truck", [(0, 0, 0), *drive], heading=False)
    walk = straight(0, -60, 0, 1.4, 0, 41.43)
    ride = [(t, x - 2, y) for t, x, y in drive]
    driver = Mover(
        2, "person", [*walk, *ride], heading=False, extra=lambda t: {"button": True} if t == 45 else {}
    )
    return run([truck, driver], 0, 80)


def truck_returns() -> list[dict[str, object]]:
    """A truck backs up to a standing fitter, who mutes it; it leaves, then comes back: alarms again."""
    keys = [(0, 120, 0), (19, 6, 0), (30, 6, 0), (50, 150, 0), (70, 150, 0), (89, 6, 0), (100, 6, 0)]
    truck = Mover(1, "haul_truck", keys)
    fitter = Mover(2, "person", [(0, 0, 0)], extra=lambda t: {"button": True} if t == 22 else {})
    return run([truck, fitter], 0, 100)


def blast_zone() -> list[dict[str, object]]:
    """A blaster walks into the blast area and out again; a surveyor walks into an excavator's swing."""
    blaster = Mover(1, "person", [(0, 0, 50), (107, 150, 50), (110, 150, 50), (217, 0, 50)])
    excavator = Mover(2, "excavator", [(0, 500, 500)], dt=1.0)
    surveyor = Mover(3, "person", [(0, 500, 450), (30, 500, 492)])
    return run([blaster, excavator, surveyor], 0, 217)


BLAST_ZONES = [
    {
        "name": "blast bench 1",
        "kind": "blast",
        "approach_m": 20,
        "polygon": [[100, 0], [200, 0], [200, 100], [100, 100]],
    },
    {
        "name": "excavator swing",
        "kind": "swing",
        "follows": 2,
        "approach_m": 10,
        "polygon": [[15 * math.cos(a / 12 * math.pi), 15 * math.sin(a / 12 * math.pi)] for a in range(24)],
    },
    {
        "name": "main ramp",
        "kind": "speed",
        "speed_limits": {"haul_truck": 30, "*": 40},
        "min_overspeed_s": 5,
        "polygon": [[0, -20], [1000, -20], [1000, 20], [0, 20]],
    },
]


def overspeed() -> list[dict[str, object]]:
    """Truck 1 climbs the ramp at 35 km/h for 10 s, then slows to 25; truck 2 is over for only 3 s."""
    v_fast, v_slow = 35 / 3.6, 25 / 3.6
    truck1 = Mover(1, "haul_truck", [(0, 0, -5), (12, 12 * v_fast, -5), (40, 12 * v_fast + 28 * v_slow, -5)])
    truck2 = Mover(2, "haul_truck", [(0, 0, 5), (3, 3 * v_fast, 5), (40, 3 * v_fast + 37 * v_slow, 5)])
    return run([truck1, truck2], 0, 40)


def sos() -> list[dict[str, object]]:
    """A walker presses SOS at 10 s; a truck 100 m away is told, a walker 1 km away is not."""
    walker = Mover(1, "person", [(0, 0, 0)], extra=lambda t: {"sos": 10 <= t <= 12})
    truck = Mover(2, "haul_truck", [(0, 100, 0)], dt=1.0)
    far = Mover(3, "person", [(0, 1000, 0)])
    return run([walker, truck, far], 0, 20)


def silent() -> list[dict[str, object]]:
    """Tracker 2 stops reporting at 20 s and is heard again at 50 s; its first cell runs out at 5 s."""
    one = Mover(1, "person", [(0, 0, 0)])
    two = Mover(2, "person", [(0, 500, 0)], extra=lambda t: {"battery": "first_empty" if t >= 5 else "ok"})
    lines = run([one, two], 0, 60)
    return [line for line in lines if not (line["id"] == 2 and 20 < line["t"] < 50)]


def gnss_jumps() -> list[dict[str, object]]:
    """A walker and a truck on paths 150 m apart with GNSS noise and 5 % jumps of 80–300 m."""
    rng = random.Random(597)
    truck = Mover(1, "haul_truck", straight(0, 0, 0, 10, 0, 120))
    walker = Mover(2, "person", straight(0, 0, 150, 1.2, 0, 120))
    lines = run([truck, walker], 0, 120)
    for line in lines:
        line["x"] = round(float(line["x"]) + rng.gauss(0, 1.0), 2)  # type: ignore[arg-type]
        line["y"] = round(float(line["y"]) + rng.gauss(0, 1.0), 2)  # type: ignore[arg-type]
        if rng.random() < 0.05:
            angle, reach = rng.uniform(0, 2 * math.pi), rng.uniform(80, 300)
            line["x"] = round(float(line["x"]) + reach * math.sin(angle), 2)  # type: ignore[arg-type]
            line["y"] = round(float(line["y"]) + reach * math.cos(angle), 2)  # type: ignore[arg-type]
    return lines


def lossy(lines: list[dict[str, object]], seed: int, rate: float = 0.2) -> list[dict[str, object]]:
    rng = random.Random(seed)
    return [line for line in lines if rng.random() >= rate]


def garbage(lines: list[dict[str, object]]) -> list[str]:
    """The head-on file with bad lines mixed in: none of them may change the alarms."""
    bad = [
        "not json at all",
        '{"t": NaN, "id": 1, "kind": "haul_truck", "x": 0, "y": 0, "speed": 1}',
        '{"t": 5, "id": 9, "kind": "spaceship", "x": 0, "y": 0, "speed": 1}',
        '{"t": 5, "id": 1, "kind": "haul_truck", "x": 1e12, "y": 0, "speed": 10}',
        '{"t": 1.0, "id": 1, "kind": "haul_truck", "x": 390, "y": 0, "speed": 10}',
        '{"t": 5, "id": 1, "kind": "haul_truck", "x": 350, "y": 0, "speed": -3}',
        '{"t": 5, "id": [1], "kind": "person", "x": 0, "y": 0, "speed": 1}',
        "[1, 2, 3]",
        '{"t": 1e300, "id": 7, "kind": "person", "x": 0, "y": 0, "speed": 0}',
        '{"t": 5, "id": 2, "kind": "person", "x": "far", "y": 0, "speed": 1}',
    ]
    out = [json.dumps(line) for line in lines]
    for i, text in enumerate(bad):
        out.insert(20 + 17 * i, text)
    return out


def write(name: str, lines: list[dict[str, object]] | list[str]) -> None:
    text = "".join((line if isinstance(line, str) else json.dumps(line)) + "\n" for line in lines)
    (HERE / f"{name}.jsonl").write_text(text, encoding="utf-8")


def main() -> None:
    scenarios = {
        "head_on": head_on(),
        "crossing": crossing(),
        "parallel": parallel(),
        "overtaking": overtaking(),
        "parked": parked(),
        "driver_boards": driver_boards(),
        "truck_returns": truck_returns(),
        "blast_zone": blast_zone(),
        "overspeed": overspeed(),
        "sos": sos(),
        "silent": silent(),
        "gnss_jumps": gnss_jumps(),
    }
    for name, lines in scenarios.items():
        write(name, lines)
    write("head_on_loss20", lossy(scenarios["head_on"], 20))
    write("crossing_loss20", lossy(scenarios["crossing"], 21))
    write("overtaking_loss20", lossy(scenarios["overtaking"], 22))
    write("head_on_garbage", garbage(scenarios["head_on"]))
    (HERE / "zones.json").write_text(json.dumps(BLAST_ZONES, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
