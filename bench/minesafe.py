"""Benchmark of the minesafe detection engine: throughput, report→alarm latency, memory, scaling.

Run alone: ``python bench/minesafe.py [--quick]``. The last line printed is one JSON object. Trackers move
on straight legs bouncing inside a quarry-sized site (2.5 × 1.5 km): half walkers at 1.2 m/s, 40 % haul
trucks at 8–12 m/s, 10 % light vehicles at 12–15 m/s; packets carry no heading, as the radio's do.
Two baselines run on the same motion: all-pairs numpy, and a scipy cKDTree rebuilt every tick with
vectorised CPA (both compute levels only: no hysteresis, mute, aboard or zones).
"""

from __future__ import annotations

import argparse
import gc
import math
import resource
import time
import tracemalloc
from dataclasses import dataclass

import numpy as np
from rich.console import Console
from rich.progress import Progress
from scipy.spatial import cKDTree

from harness import emit, machine, run_until_signalled
from minesafe_e2e import run_e2e
from minesafe_ingest import run_ingest
from tocsin.minesafe.engine import Engine, EngineConfig, closest_approach
from tocsin.minesafe.model import Kind, Report

SITE_W, SITE_H = 2500.0, 1500.0
# Micro-batch window of the engine: reports that arrived within it are checked together when it closes,
# so a report waits at most this long (the aim: report→alarm p99 ≤ 50 ms, checking included).
WINDOW_S = 0.040


@dataclass
class Fleet:
    """Positions and velocities of N trackers on one or many sites (deterministic with a seed)."""

    kinds: list[Kind]
    pos: np.ndarray
    vel: np.ndarray
    size: np.ndarray  # per tracker: site width, height
    site: list[str]

    @classmethod
    def make(cls, n: int, *, sites: int = 1, width: float = SITE_W, height: float = SITE_H, seed: int = 7):
        rng = np.random.default_rng(seed)
        roll = rng.random(n)
        kinds = [Kind.PERSON if r < 0.5 else Kind.HAUL_TRUCK if r < 0.9 else Kind.LIGHT_VEHICLE for r in roll]
        speed = np.where(roll < 0.5, 1.2, np.where(roll < 0.9, rng.uniform(8, 12, n), rng.uniform(12, 15, n)))
        angle = rng.uniform(0, 2 * math.pi, n)
        vel = np.column_stack([speed * np.sin(angle), speed * np.cos(angle)])
        pos = np.column_stack([rng.uniform(0, width, n), rng.uniform(0, height, n)])
        size = np.tile([width, height], (n, 1))
        site = [f"s{i % sites}" for i in range(n)]
        return cls(kinds, pos, vel, size, site)

    def step(self, dt: float) -> None:
        self.pos += self.vel * dt
        low, high = self.pos < 0, self.pos > self.size
        self.vel[low | high] *= -1
        self.pos = np.clip(self.pos, 0, self.size)

    def reports(self, t: float, ids: list[str]) -> list[Report]:
        speed = np.hypot(self.vel[:, 0], self.vel[:, 1])
        return [
            Report(
                t,
                ids[i],
                self.kinds[i],
                float(self.pos[i, 0]),
                float(self.pos[i, 1]),
                float(speed[i]),
                site=self.site[i],
            )
            for i in range(len(ids))
        ]


def run_engine(
    fleet: Fleet,
    hz: float,
    seconds: float,
    progress: Progress,
    label: str,
    warmup_ticks: int = 4,
    window_s: float | None = WINDOW_S,
) -> dict[str, float]:
    """Feed the fleet to one engine as a base station would receive it; the first ``warmup_ticks``
    (every tracker's first fixes, which create its track) are not measured.

    Reports of a tick arrive evenly spread over it (TDMA slots). With ``window_s`` they are handed to
    ``Engine.ingest_many`` in bounded micro-batches: every report that arrived in one window, at the
    window's end (windows start at each tick; the last one of a tick may be shorter). Without it each
    report goes alone through ``Engine.ingest`` on arrival. CPU is the thread's CPU time over each tick's
    engine calls (``ingest_many``/``ingest`` and the per-tick ``tick``), read once per tick as the
    baselines' is (the thread clock costs ~1 µs a read here, more than some reports); report→alarm latency
    is the wait for the window to close plus the wall time of the call that checks the report (on a shared
    machine that includes time the process was not running).
    """
    gc.collect()  # start from a clean heap: the garbage of the previous scenario is not this one's cost
    ids = [f"{fleet.site[i]}:{i}" for i in range(len(fleet.kinds))]
    n, dt = len(ids), 1.0 / hz
    ticks = max(1, int(seconds * hz))
    task = progress.add_task(label, total=warmup_ticks + ticks)
    engine, busy, alarms, batches = Engine(), 0.0, 0, 0
    latency: list[np.ndarray] = []
    arrival = (np.arange(n) + 0.5) * dt / n  # within the tick
    if window_s is None:
        cuts = np.arange(n + 1)
    else:
        edges = np.arange(0.0, dt, window_s)
        cuts = np.searchsorted(arrival, np.append(edges, dt))
        cuts[-1] = n
    for tick in range(warmup_ticks + ticks):
        reports = fleet.reports(tick * dt, ids)
        fleet.step(dt)
        calls = []
        start_cpu, clock = time.thread_time(), time.perf_counter
        for w in range(len(cuts) - 1):
            batch = reports[cuts[w] : cuts[w + 1]]
            if batch:
                start_wall = clock()
                alarms += len(engine.ingest(batch[0]) if window_s is None else engine.ingest_many(batch))
                calls.append((w, clock() - start_wall))
        engine.tick(tick * dt)
        spent = time.thread_time() - start_cpu
        batches += len(calls)
        if tick + 1 == warmup_ticks:
            gc.collect()  # the collection that creating every track calls for, done before measuring
        if tick >= warmup_ticks:
            busy += spent
            for w, wall in calls:
                close = arrival[cuts[w]] if window_s is None else min((w + 1) * window_s, dt)
                latency.append(close - arrival[cuts[w] : cuts[w + 1]] + wall)
        progress.advance(task)
    progress.remove_task(task)
    reports_done = ticks * n
    lat_ms = np.concatenate(latency) * 1e3
    return {
        "trackers": n,
        "hz": hz,
        "batch_window_ms": None if window_s is None else round(window_s * 1e3, 1),
        "reports_per_call": round((warmup_ticks + ticks) * n / batches, 1),
        "reports": reports_done,
        "reports_per_cpu_s": round(reports_done / busy),
        "cpu_us_per_report": round(busy / reports_done * 1e6, 2),
        "core_share": round(busy / (ticks * dt), 3),
        "latency_p50_ms": round(float(np.percentile(lat_ms, 50)), 3),
        "latency_p99_ms": round(float(np.percentile(lat_ms, 99)), 3),
        "latency_max_ms": round(float(lat_ms.max()), 3),
        "alarm_events": alarms,
    }


def baseline_levels(pos: np.ndarray, vel: np.ndarray, i: np.ndarray, j: np.ndarray, cfg: EngineConfig):
    """Vectorised CPA and the engine's entry rule (``Engine.level``) for pairs (i, j), as haul trucks."""
    r, w = pos[j] - pos[i], vel[j] - vel[i]
    d, cpa, tcpa = closest_approach(r[:, 0], r[:, 1], w[:, 0], w[:, 1])
    v = np.maximum(np.hypot(*vel[i].T), np.hypot(*vel[j].T))
    a = cfg.decel["haul_truck"]
    stop_d, stop_t = v * cfg.reaction_s + v * v / (2 * a), cfg.reaction_s + v / a
    level = np.zeros(d.shape, dtype=np.int8)
    for value, r0, scale, margin in (
        (1, cfg.warning_r0, cfg.warning_scale, cfg.warning_margin_s),
        (2, cfg.danger_r0, 1.0, cfg.danger_margin_s),
    ):
        horizon = np.minimum(scale * stop_t + margin, cfg.horizon_max_s)
        ahead = (cpa < r0) & (tcpa >= 0) & ((tcpa <= horizon) | (d < r0 + scale * stop_d))
        level[(d < r0) | ahead] = value
    return level


def run_baseline(fleet: Fleet, kind: str, hz: float, seconds: float, radius: float) -> dict[str, float]:
    """A whole tick at once; the tick's compute (CPU) time is the latency of every report in it."""
    cfg = EngineConfig()
    n = len(fleet.kinds)
    times = []
    for _ in range(int(seconds * hz)):
        start = time.thread_time_ns()
        if kind == "all_pairs":
            i, j = np.triu_indices(n, 1)
            d = np.hypot(*(fleet.pos[j] - fleet.pos[i]).T)
            close = d < radius
            i, j = i[close], j[close]
        else:
            pairs = cKDTree(fleet.pos).query_pairs(radius, output_type="ndarray")
            i, j = pairs[:, 0], pairs[:, 1]
        baseline_levels(fleet.pos, fleet.vel, i, j, cfg)
        times.append((time.thread_time_ns() - start) / 1e6)
        fleet.step(1.0 / hz)
    tick_ms = np.array(times)
    return {
        "trackers": n,
        "hz": hz,
        "cpu_tick_p50_ms": round(float(np.median(tick_ms)), 3),
        "cpu_tick_p99_ms": round(float(np.percentile(tick_ms, 99)), 3),
        "reports_per_cpu_s": round(n / (float(tick_ms.mean()) / 1e3)),
        "core_share": round(float(tick_ms.mean()) / 1e3 * hz, 3),
    }


def warm_kernels() -> None:
    """Compile (or load from numba's cache) the engine's kernels before anything is timed."""
    engine = Engine()
    for t in (0.0, 1.0):
        engine.ingest_many(
            [Report(t, "a", Kind.HAUL_TRUCK, 10 * t, 0.0, 10.0), Report(t, "b", Kind.PERSON, 9, 0, 0)]
        )


def ratios(result: dict) -> dict[str, object]:
    """The figures to compare between runs at a glance: engine CPU per report over the cKDTree
    baseline's (below 1: the engine costs less), latency, cores for 50,000 trackers at 1 Hz, growth."""
    engine = {row["trackers"]: row for row in result["one_site_4hz"]}
    quarry, crowd = result["baselines_quarry_4hz"], result["baselines_1000_4hz"]["ckdtree"]
    growth = {str(row["trackers"]): row["cpu_us_per_report"] for row in result["growth_constant_density_4hz"]}
    spread = [row["cpu_us_per_report"] for row in result["growth_constant_density_4hz"]]
    return {
        "engine_over_ckdtree_cpu_20": round(
            quarry["ckdtree_20"]["reports_per_cpu_s"] / engine[20]["reports_per_cpu_s"], 2
        ),
        "engine_over_ckdtree_cpu_50": round(
            quarry["ckdtree_50"]["reports_per_cpu_s"] / engine[50]["reports_per_cpu_s"], 2
        ),
        "engine_over_ckdtree_cpu_1000": round(
            crowd["reports_per_cpu_s"] / engine[1000]["reports_per_cpu_s"], 2
        ),
        "latency_p99_ms_20": engine[20]["latency_p99_ms"],
        "latency_p99_ms_1000": engine[1000]["latency_p99_ms"],
        "batch_window_ms": WINDOW_S * 1e3,
        "cores_for_50000_at_1hz": result["many_sites_50000_1hz"]["core_share"],
        "growth_cpu_us_per_report": growth,
        "growth_last_over_first": round(spread[-1] / spread[0], 2),
    }


def e2e_ratios(result: dict) -> dict[str, float]:
    """CPU per report stored of each way in (the whole ingestion process: transport, decoding, engine,
    storage) over the engine's alone on the same quarry traffic in this run (``ingest``)."""
    engine = result["ingest"]["engine_cpu_us_per_report"]
    found = {}
    for kind in ("sqlite", "postgresql"):
        for way, row in result["e2e"].get(f"transports_{kind}", {}).items():
            found[f"e2e_{way}_{kind}_over_engine_per_report"] = round(row["cpu_us_per_report"] / engine, 1)
    return found


def memory_of_engine(n: int) -> dict[str, float]:
    """Peak Python allocation of an engine holding n trackers after one second at 4 Hz."""
    fleet = Fleet.make(n, seed=3)
    ids = [f"s0:{i}" for i in range(n)]
    tracemalloc.start()
    engine = Engine()
    for tick in range(4):
        for report in fleet.reports(tick * 0.25, ids):
            engine.ingest(report)
        fleet.step(0.25)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {"trackers": n, "tracemalloc_peak_mb": round(peak / 2**20, 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="shorter runs (same tracker counts), < 60 s")
    parser.add_argument(
        "--postgresql",
        action="store_true",
        help="end to end on PostgreSQL too",
    )
    args = parser.parse_args()
    # Simulated seconds per tracker count: a quarry's tick costs a few hundredths of a millisecond, so small
    # fleets run longer to be measured at all (quick: ≥ 2,400 reports per row).
    seconds = (
        {20: 30.0, 50: 12.0, 200: 6.0, 1000: 6.0}
        if args.quick
        else {20: 300.0, 50: 120.0, 200: 30.0, 1000: 30.0}
    )
    result: dict[str, object] = {
        "machine": {**machine(), "numpy": np.__version__},
        "quick": args.quick,
        "command": "python bench/minesafe.py"
        + (" --quick" if args.quick else "")
        + (" --postgresql" if args.postgresql else ""),
    }
    probe = Engine()
    probe.ingest(Report(0.0, "probe", Kind.HAUL_TRUCK, 0.0, 0.0, 0.0))
    warm_kernels()
    radius = probe._search_radius(15.0)  # what the engine searches around the fastest truck
    with Progress(transient=True, console=Console(stderr=True)) as progress:
        result["one_site_4hz"] = [
            run_engine(Fleet.make(n), 4.0, seconds[n], progress, f"engine {n} trackers @ 4 Hz")
            for n in (20, 50, 200, 1000)
        ]
        result["one_report_per_call_4hz"] = [
            run_engine(Fleet.make(n), 4.0, seconds[n], progress, f"ingest {n} @ 4 Hz", window_s=None)
            for n in (20, 1000)
        ]
        result["baselines_quarry_4hz"] = {
            f"{kind}_{n}": run_baseline(Fleet.make(n), kind, 4.0, seconds[n], radius)
            for n in (20, 50)
            for kind in ("all_pairs", "ckdtree")
        }
        result["baselines_1000_4hz"] = {
            kind: run_baseline(Fleet.make(1000), kind, 4.0, seconds[1000], radius)
            for kind in ("all_pairs", "ckdtree")
        }
        result["baselines_1000_4hz"]["search_radius_m"] = round(radius, 1)
        growth = (
            {100: 1.0, 1000: 1.0, 10_000: 0.5, 100_000: 0.25}
            if args.quick
            else {100: 10.0, 1000: 10.0, 10_000: 5.0, 30_000: 2.0, 100_000: 1.0}
        )
        warm = {30_000: 2, 100_000: 1}  # ticks that create the tracks; a 100,000-tracker tick takes seconds
        result["growth_constant_density_4hz"] = [
            run_engine(
                Fleet.make(n, width=SITE_W * math.sqrt(n / 200), height=SITE_H * math.sqrt(n / 200)),
                4.0,
                span,
                progress,
                f"growth {n}",
                warm.get(n, 4),
            )
            for n, span in growth.items()
        ]
        result["many_sites_50000_1hz"] = run_engine(
            Fleet.make(50_000, sites=2500),
            1.0,
            2.0 if args.quick else 10.0,
            progress,
            "2,500 sites × 20 @ 1 Hz",
            2,
        )
        task = progress.add_task("ingestion paths", total=None)
        result["ingest"] = run_ingest(60.0 if args.quick else 300.0)
        progress.remove_task(task)
        task = progress.add_task("end to end: processes, MQTT, UDP, OsmAnd, live push, sharding", total=None)
        result["e2e"] = run_e2e(
            200 if args.quick else 1000,
            3 if args.quick else 20,
            postgresql=args.postgresql,
            probes=20 if args.quick else 100,
        )
        progress.remove_task(task)
    result["ratios"] = (
        ratios(result)
        | {"ingest_json_over_engine_per_report": result["ingest"]["ingest_json_over_engine_per_report"]}
        | e2e_ratios(result)
    )
    result["memory"] = memory_of_engine(1000)
    result["ru_maxrss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    emit(result)


if __name__ == "__main__":
    run_until_signalled(main)
