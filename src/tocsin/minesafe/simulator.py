"""A deterministic quarry: vehicles and people moving by their roles, GNSS noise, the radio, failures.

``simulate(site, config, seconds)`` yields one ``Tick`` per report cycle: the real encoded tracker packets
each mast heard (with mast id and rx time) and the truth log. Same seed, same output. The site file's
tracker ``role`` says what each does: ``haul:<road>`` (load at the road's start, haul, dump at its end,
return), ``dig:<road>``, ``doze:<road>``, ``drive:<road>``, ``drill:<road>``, ``walk:<road>``,
``stand:<road>``, ``aboard:<tracker id>``. Each station cycle every powered mast also sends its base-station
packet (its DGNSS correction and the trackers it heard), and staff press SOS and the button when the config's
scripts say so.
"""

from __future__ import annotations

import base64
import dataclasses
import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from tocsin.minesafe.accuracy import CommonModeError, GnssErrorModel, correction_cm
from tocsin.minesafe.codec import (
    STATION_SLOTS,
    DecodeError,
    Deduplicator,
    Slot,
    StationPacket,
    TrackerPacket,
    decode_tracker,
    encode_station,
    encode_tracker,
    report_from_packet,
    speed_code,
)
from tocsin.minesafe.model import Kind, Report
from tocsin.minesafe.site import Mast, Road, Site

KMH = 1 / 3.6


@dataclass(frozen=True, slots=True)
class SimConfig:
    """Knobs of a run. Failures: ``mast_outage`` (mast id, from s, to s) and one tracker's cells.

    Base stations take turns (the radio plan's plan C): the masts, in site order, send one after the other,
    one per tick, so each sends every ``station_cycle_s``. Staff scripts: ``sos_script`` holds
    (tracker, from s, to s) during which the wearer's SOS is on (the packet's SOS bit); ``button_script``
    holds (tracker, s) button presses.
    """

    seed: int = 0
    tick_s: float = 1.0
    loss: float = 0.05
    gnss: GnssErrorModel = field(default_factory=GnssErrorModel)
    mast_outage: tuple[int, float, float] | None = (1, 120.0, 420.0)
    battery_tracker: int | None = 11
    first_cell_empty_s: float = 300.0
    both_cells_empty_s: float = 540.0
    slot_s: float = 0.025
    rx_delay_s: float = 0.016
    station_cycle_s: float = 3.0
    sos_script: tuple[tuple[int, float, float], ...] = ((12, 240.0, 270.0),)
    button_script: tuple[tuple[int, float], ...] = ((14, 150.0), (19, 330.0))


@dataclass(frozen=True, slots=True)
class HeardPacket:
    """Bytes one mast received from the air, as a gateway forwards them."""

    t: float
    mast: int
    payload: bytes


@dataclass(frozen=True, slots=True)
class Truth:
    """Where a tracker really was, what its receiver said (``fix_*``) and its power state."""

    t: float
    id: int
    kind: str
    x: float
    y: float
    speed: float
    heading: float
    fix_x: float
    fix_y: float
    battery: str
    sending: bool
    sos: bool = False
    button: bool = False


@dataclass(frozen=True, slots=True)
class Tick:
    """One report cycle: tracker packets each mast heard, base-station packets sent, the truth log.

    ``stations`` holds each sending mast's own packet as its gateway forwards it (``mast`` = the sender).
    """

    t: float
    packets: tuple[HeardPacket, ...]
    truth: tuple[Truth, ...]
    stations: tuple[HeardPacket, ...] = ()


@dataclass(frozen=True, slots=True)
class Pose:
    x: float
    y: float
    speed: float
    heading: float


class Agent(Protocol):
    def step(self, dt: float) -> Pose: ...


class Polyline:
    """Arc-length access to a road: position and heading (degrees clockwise from grid north) at s."""

    def __init__(self, points: Iterable[tuple[float, float]]) -> None:
        self.points = np.asarray(list(points), dtype=float)
        segments = np.diff(self.points, axis=0)
        self.lengths = np.hypot(segments[:, 0], segments[:, 1])
        self.starts = np.concatenate([[0.0], np.cumsum(self.lengths)])
        self.length = float(self.starts[-1])

    def at(self, s: float) -> tuple[float, float, float]:
        s = min(max(s, 0.0), self.length)
        i = min(int(np.searchsorted(self.starts, s, side="right")) - 1, len(self.lengths) - 1)
        a, b = self.points[i], self.points[i + 1]
        f = (s - self.starts[i]) / self.lengths[i] if self.lengths[i] else 0.0
        heading = math.degrees(math.atan2(b[0] - a[0], b[1] - a[1])) % 360.0
        return float(a[0] + f * (b[0] - a[0])), float(a[1] + f * (b[1] - a[1])), heading


@dataclass
class Shuttle:
    """Goes end to end along a road and back, waiting at the ends (and every ``hop_m`` if set).

    ``speeds`` and ``waits`` are (low, high) ranges for the outbound and the return leg, drawn per leg;
    speed ramps at ``accel`` m/s² and the agent brakes to stop exactly at its next stop. Shuttles on the
    same ``lane`` keep ``gap_m`` behind the one ahead going their way, and drive ``side_m`` to the right
    of the centre line so that two trucks meeting on a haul road pass each other.
    """

    road: Polyline
    rng: np.random.Generator
    speeds: tuple[tuple[float, float], tuple[float, float]]
    waits: tuple[tuple[float, float], tuple[float, float]]
    accel: float = 0.5
    hop_m: float | None = None
    hop_wait: tuple[float, float] = (0.0, 0.0)
    lane: list[Shuttle] | None = None
    gap_m: float = 40.0
    side_m: float = 0.0
    s: float = 0.0
    direction: int = 1
    speed: float = 0.0
    wait_left: float = 0.0
    target: float = 0.0
    stop_at: float = 0.0

    def __post_init__(self) -> None:
        self._new_leg(initial=True)

    def _new_leg(self, *, initial: bool = False) -> None:
        leg = 0 if self.direction > 0 else 1
        self.target = float(self.rng.uniform(*self.speeds[leg]))
        if not initial:
            self.wait_left = float(self.rng.uniform(*self.waits[leg]))
        self.stop_at = self._next_stop()

    def _next_stop(self) -> float:
        end = self.road.length if self.direction > 0 else 0.0
        if not self.hop_m:
            return end
        hop = self.s + self.direction * self.hop_m
        return min(hop, end) if self.direction > 0 else max(hop, end)

    def step(self, dt: float) -> Pose:
        if self.wait_left > 0:
            self.wait_left -= dt
            self.speed = 0.0
        else:
            self._drive(dt)
        x, y, heading = self.road.at(self.s)
        heading = heading if self.direction > 0 else (heading + 180.0) % 360.0
        right = math.radians(heading)
        x, y = x + self.side_m * math.cos(right), y - self.side_m * math.sin(right)
        return Pose(x, y, self.speed, heading)

    def _drive(self, dt: float) -> None:
        remaining = abs(self.stop_at - self.s)
        limit = min(self.target, math.sqrt(2 * self.accel * remaining), self._follow_limit())
        self.speed = min(limit, self.speed + self.accel * dt) if self.speed < limit else limit
        self.speed = max(self.speed, 0.0)
        advance = min(self.speed * dt, remaining)
        self.s += self.direction * advance
        if advance >= remaining - 1e-9:
            self._arrive()

    def _arrive(self) -> None:
        self.s, self.speed = self.stop_at, 0.0
        at_end = self.s in (0.0, self.road.length)
        if at_end:
            self.direction = -self.direction
            self._new_leg()
        else:
            self.wait_left = float(self.rng.uniform(*self.hop_wait))
            self.stop_at = self._next_stop()

    def _follow_limit(self) -> float:
        """Speed allowed by the vehicle ahead in the same direction (stop inside ``gap_m``)."""
        limit = math.inf
        for other in self.lane or ():
            ahead = (other.s - self.s) * self.direction
            if other is self or other.direction != self.direction or ahead <= 0:
                continue
            if ahead < self.gap_m:
                limit = 0.0 if ahead < self.gap_m / 2 else min(limit, other.speed)
        return limit


@dataclass
class Loiter:
    """Stays near an anchor: slow random drift pulled back to it (a person at work, a digging excavator)."""

    anchor: tuple[float, float]
    rng: np.random.Generator
    radius_m: float = 4.0
    pace: float = 0.2
    x: float = 0.0
    y: float = 0.0

    def __post_init__(self) -> None:
        self.x, self.y = self.anchor

    def step(self, dt: float) -> Pose:
        # an Ornstein–Uhlenbeck walk whose spread around the anchor is about radius_m
        pull = min(1.0, self.pace**2 * dt / (2 * self.radius_m**2))
        dx = pull * (self.anchor[0] - self.x) + self.rng.normal(0.0, self.pace * dt)
        dy = pull * (self.anchor[1] - self.y) + self.rng.normal(0.0, self.pace * dt)
        self.x, self.y = self.x + dx, self.y + dy
        heading = math.degrees(math.atan2(dx, dy)) % 360.0
        return Pose(self.x, self.y, math.hypot(dx, dy) / dt, heading)


@dataclass
class Aboard:
    """A person riding in a vehicle: the vehicle's pose, ``offset_m`` east of its tracker."""

    poses: dict[int, Pose]
    host_id: int
    offset_m: float = 1.5

    def step(self, dt: float) -> Pose:
        pose = self.poses[self.host_id]
        return Pose(pose.x + self.offset_m, pose.y, pose.speed, pose.heading)


def _shuttle(
    road: Road, rng: np.random.Generator, lane: list[Shuttle] | None = None, **kwargs: Any
) -> Shuttle:
    """A shuttle; vehicles sharing a lane start spread along it, going either way."""
    line = Polyline(road.points)
    agent = Shuttle(line, rng, lane=lane, **kwargs)
    if lane is not None:
        agent.s = float(rng.uniform(0, line.length))
        agent.direction = 1 if rng.random() < 0.5 else -1
        agent._new_leg(initial=True)
        lane.append(agent)
    return agent


def _end_point(road: Road, rng: np.random.Generator, end: int, spread: float) -> tuple[float, float]:
    x, y = road.points[end]
    return x + float(rng.uniform(-spread, spread)), y + float(rng.uniform(-spread, spread))


def build_agents(site: Site, rng: np.random.Generator, poses: dict[int, Pose]) -> dict[int, Agent]:
    """One agent per registered tracker, by its role; riders come after their hosts."""
    lanes: dict[str, list[Shuttle]] = {}
    agents: dict[int, Agent] = {}
    ordered = sorted(site.trackers.values(), key=lambda t: (t.role.startswith("aboard:"), t.id))
    for info in ordered:
        verb, _, arg = info.role.partition(":")
        agents[info.id] = _agent(verb, arg, info.kind, site, rng, lanes, agents, poses, info.id)
    return agents


def _agent(
    verb: str,
    arg: str,
    kind: Kind,
    site: Site,
    rng: np.random.Generator,
    lanes: dict[str, list[Shuttle]],
    agents: dict[int, Agent],
    poses: dict[int, Pose],
    tracker: int,
) -> Agent:
    if verb == "aboard":
        if int(arg) not in agents:
            raise ValueError(f"trackers[{tracker}].role: tracker {arg} to ride in is not on the site")
        return Aboard(poses, int(arg))
    road = site.road(arg) if arg else site.roads[0]
    if verb == "haul":
        lane = lanes.setdefault(road.name, [])
        loaded, empty = (20 * KMH, 40 * KMH), (30 * KMH, 40 * KMH)
        return _shuttle(road, rng, lane, speeds=(loaded, empty), waits=((40, 70), (90, 150)), side_m=4.0)
    if verb == "drive":
        return _shuttle(
            road,
            rng,
            lanes.setdefault(road.name, []),
            speeds=((30 * KMH, 50 * KMH),) * 2,
            waits=((30, 120), (60, 300)),
            side_m=4.0,
        )
    if verb == "drill":
        return _shuttle(
            road,
            rng,
            speeds=((1 * KMH, 2 * KMH),) * 2,
            waits=((60, 120),) * 2,
            hop_m=6.0,
            hop_wait=(120, 240),
            accel=0.1,
        )
    if verb == "walk":
        return _shuttle(
            road,
            rng,
            speeds=((1.2, 1.5),) * 2,
            waits=((10, 60),) * 2,
            hop_m=25.0,
            hop_wait=(5, 40),
            accel=0.5,
        )
    if verb == "doze":
        return _doze(road, rng)
    if verb == "dig":
        return Loiter(_beside(road, 18.0), rng, radius_m=1.0, pace=0.05)
    if verb == "stand":
        return Loiter(_end_point(road, rng, -1 if road.kind == "haul" else 0, 15.0), rng)
    raise ValueError(f"trackers[{tracker}].role: unknown role {verb!r} for a {kind.value}")


def _doze(road: Road, rng: np.random.Generator) -> Shuttle:
    """A bulldozer pushing back and forth over the last 60 m of the road (the dump's tipping face)."""
    line = Polyline(road.points)
    x0, y0, _ = line.at(line.length - 60.0)
    x1, y1, _ = line.at(line.length)
    spot = Road(road.name, "dump", ((x0 + 10, y0 + 10), (x1 + 10, y1 + 10)))
    return _shuttle(spot, rng, speeds=((4 * KMH, 8 * KMH),) * 2, waits=((3, 10),) * 2, accel=0.3)


def _beside(road: Road, offset: float) -> tuple[float, float]:
    """A point ``offset`` metres to the left of a road's start (where the excavator stands at the face)."""
    (x0, y0), (x1, y1) = road.points[0], road.points[1]
    length = math.hypot(x1 - x0, y1 - y0)
    return x0 - offset * (y1 - y0) / length, y0 + offset * (x1 - x0) / length


def battery_state(config: SimConfig, tracker: int, t: float) -> str:
    if tracker != config.battery_tracker or t < config.first_cell_empty_s:
        return "ok"
    return "first_empty" if t < config.both_cells_empty_s else "both_empty"


def mast_up(config: SimConfig, mast: int, t: float) -> bool:
    outage = config.mast_outage
    return outage is None or mast != outage[0] or not outage[1] <= t < outage[2]


def simulate(site: Site, config: SimConfig, seconds: float) -> Iterator[Tick]:
    """Stream ``seconds`` of the site, one Tick per ``config.tick_s``."""
    check_scripts(site, config)
    rng = np.random.default_rng(config.seed)
    # The masts' own receiver noise has a stream of its own, so adding stations left tracker output as it was.
    station_rng = np.random.default_rng([config.seed, 1])
    poses: dict[int, Pose] = {}
    agents = build_agents(site, rng, poses)
    common = CommonModeError(config.gnss, rng)
    seq = dict.fromkeys(agents, 0)
    heard: dict[int, dict[int, TrackerPacket]] = {mast.id: {} for mast in site.masts}
    for n in range(int(round(seconds / config.tick_s))):
        t = round(n * config.tick_s, 6)
        shared = common.step(config.tick_s)
        correction = _correction(site, config, t, shared, rng)
        truth, packets = [], []
        for tracker, agent in agents.items():
            poses[tracker] = agent.step(config.tick_s)
            record = _truth(site, config, tracker, t, poses[tracker], shared + correction, rng)
            truth.append(record)
            if record.sending:
                packets.extend(_transmit(site, config, record, seq[tracker], rng))
                seq[tracker] = (seq[tracker] + 1) % 8
        packets.sort(key=lambda p: (p.t, p.mast))
        _listen(heard, packets)
        stations = _stations(site, config, n, t, (shared, correction), heard, station_rng)
        yield Tick(t, tuple(packets), tuple(sorted(truth, key=lambda r: r.id)), stations)


def check_scripts(site: Site, config: SimConfig) -> None:
    """SOS and button scripts name staff on the site (ValueError naming the entry otherwise)."""
    entries = [("sos_script", i, e[0]) for i, e in enumerate(config.sos_script)]
    entries += [("button_script", i, e[0]) for i, e in enumerate(config.button_script)]
    for name, index, tracker in entries:
        info = site.trackers.get(tracker)
        if info is None or not info.kind.is_person:
            what = "not on the site" if info is None else f"a {info.kind.value}"
            raise ValueError(f"{name}[{index}]: tracker {tracker} is {what}, not staff")


def sos_on(config: SimConfig, tracker: int, t: float) -> bool:
    """Whether the wearer's SOS is on at ``t`` (held from the press until cancelled)."""
    return any(who == tracker and start <= t < end for who, start, end in config.sos_script)


def button_pressed(config: SimConfig, tracker: int, t: float) -> bool:
    """Whether the wearer presses the button during the tick starting at ``t``."""
    return any(who == tracker and t <= at < t + config.tick_s for who, at in config.button_script)


def _listen(heard: dict[int, dict[int, TrackerPacket]], packets: list[HeardPacket]) -> None:
    """Each mast remembers the newest packet of every tracker it heard since its last station packet."""
    for packet in packets:
        decoded = decode_tracker(packet.payload)
        heard[packet.mast][decoded.id] = decoded


def _stations(
    site: Site,
    config: SimConfig,
    n: int,
    t: float,
    errors: tuple[np.ndarray, np.ndarray],
    heard: dict[int, dict[int, TrackerPacket]],
    rng: np.random.Generator,
) -> tuple[HeardPacket, ...]:
    """The base-station packet of the mast whose turn it is, if it has power (after the trackers' slots)."""
    cycle = max(1, int(round(config.station_cycle_s / config.tick_s)))
    shared, applied = errors
    live = [mast for mast in site.masts if mast_up(config, mast.id, t)]
    sent = []
    for turn, mast in enumerate(site.masts):
        if n % cycle != turn % cycle:
            continue
        slots = heard[mast.id]
        heard[mast.id] = {}
        if mast not in live:
            continue
        # The first powered mast's correction is the one the simulated trackers applied this tick.
        own = applied if mast is live[0] else -(shared + rng.normal(0.0, config.gnss.base_sigma_m, size=2))
        payload = encode_station(_station_packet(mast, own, slots))
        rx = round(t + len(site.trackers) * config.slot_s + config.rx_delay_s, 6)
        sent.append(HeardPacket(rx, mast.id, payload))
    return tuple(sent)


def _station_packet(mast: Mast, correction: np.ndarray, heard: dict[int, TrackerPacket]) -> StationPacket:
    east, north = correction_cm(correction)
    slots = tuple(
        None if (p := heard.get(tracker)) is None else Slot(p.x, p.y, p.speed)
        for tracker in range(STATION_SLOTS)
    )
    return StationPacket(mast.id, east, north, slots)


def _correction(
    site: Site, config: SimConfig, t: float, shared: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """The DGNSS correction of the first mast with power; none when every mast is down."""
    if not any(mast_up(config, mast.id, t) for mast in site.masts):
        return np.zeros(2)
    return -(shared + rng.normal(0.0, config.gnss.base_sigma_m, size=2))


def _truth(
    site: Site,
    config: SimConfig,
    tracker: int,
    t: float,
    pose: Pose,
    error: np.ndarray,
    rng: np.random.Generator,
) -> Truth:
    grid = site.grid
    x = min(max(pose.x, 0.0), grid.width_m)
    y = min(max(pose.y, 0.0), grid.height_m)
    noise = rng.normal(0.0, config.gnss.rover_sigma_m, size=2) + error
    fix_x = min(max(x + float(noise[0]), 0.0), grid.width_m)
    fix_y = min(max(y + float(noise[1]), 0.0), grid.height_m)
    battery = battery_state(config, tracker, t)
    kind = site.trackers[tracker].kind.value
    sending = battery != "both_empty"
    sos, button = sos_on(config, tracker, t), button_pressed(config, tracker, t)
    return Truth(
        t, tracker, kind, x, y, pose.speed, pose.heading, fix_x, fix_y, battery, sending, sos, button
    )


def _transmit(
    site: Site, config: SimConfig, record: Truth, seq: int, rng: np.random.Generator
) -> list[HeardPacket]:
    cx, cy = site.grid.quantise(record.fix_x, record.fix_y)
    payload = encode_tracker(TrackerPacket(cx, cy, speed_code(record.speed), record.sos, record.id, seq))
    rx = round(record.t + record.id * config.slot_s + config.rx_delay_s, 6)
    lost = rng.random(len(site.masts)) < config.loss
    return [
        HeardPacket(rx, mast.id, payload)
        for mast, gone in zip(site.masts, lost, strict=True)
        if not gone and mast_up(config, mast.id, record.t)
    ]


def reports_of_tick(tick: Tick, site: Site, seen: Deduplicator) -> list[Report]:
    """One tick's packets decoded and de-duplicated across masts, as ingestion hands them to the engine.

    A button press is marked on the presser's report: the packet has no button bit, so this is what the
    presser's own engine (tracker mode) sees; a base station learns nothing of it.
    """
    pressed = {record.id for record in tick.truth if record.button}
    reports = []
    for heard in tick.packets:
        try:
            packet = decode_tracker(heard.payload)
            report = report_from_packet(packet, site=site, t=heard.t)
        except DecodeError:
            continue
        if seen.is_new(packet, heard.t):
            reports.append(dataclasses.replace(report, button=True) if packet.id in pressed else report)
    return reports


def reports_from_ticks(ticks: Iterable[Tick], site: Site) -> Iterator[Report]:
    """Every decoded report of a run, in time order."""
    seen = Deduplicator()
    for tick in ticks:
        yield from reports_of_tick(tick, site, seen)


def truth_record(truth: Truth) -> dict[str, Any]:
    """A truth-log line (metres and m/s rounded to the millimetre)."""
    record = {name: getattr(truth, name) for name in Truth.__slots__}
    return {k: round(v, 3) if isinstance(v, float) else v for k, v in record.items()}


def tick_packets(tick: Tick) -> list[HeardPacket]:
    """Tracker and base-station packets of a tick in time order (what the gateways forward)."""
    return sorted(tick.packets + tick.stations, key=lambda p: (p.t, p.mast, len(p.payload)))


def packet_record(heard: HeardPacket) -> dict[str, Any]:
    """A packet line as a gateway bridge forwards it: rx time, mast, base64 payload (5 or 82 bytes)."""
    return {"t": heard.t, "mast": heard.mast, "payload": base64.b64encode(heard.payload).decode("ascii")}


def replay_record(report: Report) -> dict[str, Any]:
    """A report in the replay format of ``tocsin minesafe replay`` (id is the packet's tracker id)."""
    record: dict[str, Any] = {
        "t": report.t,
        "id": int(report.tracker.rpartition(":")[2]),
        "kind": report.kind.value,
        "x": round(report.x, 3),
        "y": round(report.y, 3),
        "speed": round(report.speed, 3),
    }
    if report.heading is not None:
        record["heading"] = report.heading
    if report.sos:
        record["sos"] = True
    if report.button:
        record["button"] = True
    return record
