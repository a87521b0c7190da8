"""Detection engine: turns position reports into collision, run-over, zone, speed and health alarms.

Pure computation, no I/O. The same code runs on a base station ("base" mode, the whole picture) and on a
tracker ("tracker" mode, only what that tracker hears, only alarms that involve it). Each report is checked
against its neighbours only, found through a uniform grid that is updated incrementally. A handful of
neighbours (a real quarry) is checked with plain Python floats, which beat numpy's per-call overhead below a
few dozen elements; a crowded window gets one numpy pass that keeps only the pairs passing close, and those
are then checked exactly as the small case is.
"""

from __future__ import annotations

import math
import numbers
from collections import Counter, deque
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field

import numpy as np
import shapely
from shapely.geometry import Polygon

from tocsin.minesafe import kernels
from tocsin.minesafe.model import AlarmEvent, Kind, Level, Report, Zone

NONE, WARNING, DANGER = 0, 1, 2
LEVELS = {WARNING: Level.WARNING, DANGER: Level.DANGER}
KMH = 1 / 3.6

# Pedestrians first (the source's first worry is people run over by trucks they cannot be seen from).
TYPE_PRIORITY = {"sos": 0, "run_over": 1, "zone_entry": 2, "collision": 3, "zone_approach": 4, "overspeed": 5}
PER_SLOT = {"_px": float, "_py": float, "_pvx": float, "_pvy": float, "_pt": float, "_s": float, "_veh": bool}
# Up to this many candidates a plain Python loop beats one numpy pass (~45 µs for the pass's ~20 calls,
# against 0.4–1 µs per candidate in Python, measured on the benchmark machine).
SMALL_WINDOW = 48


def _by_kind(**values: float) -> dict[str, float]:
    return {Kind(name).value: value for name, value in values.items()}


@dataclass(frozen=True, slots=True)
class EngineConfig:
    """Every threshold of the engine, with the reason for its value."""

    # Perception-reaction time of a driver warned by a buzzer (1.5 s, the usual figure for an expected
    # hazard) plus the delivery delay of an alarm: one 4 Hz report and the radio round (0.5 s).
    reaction_s: float = 2.0
    # Braking deceleration per class, m/s². Haul truck 1.5: a loaded rigid truck on a wet haul road
    # (~0.15 g, ISO 3450 service-brake distances); light vehicle 4.0: a car on gravel (~0.4 g);
    # tracked machines stop quickly from their low speeds but are given little grip on loose ground;
    # locomotive 0.5: steel on steel; a person stops within a step.
    decel: dict[str, float] = field(
        default_factory=lambda: _by_kind(
            person=3.0, haul_truck=1.5, excavator=1.0, bulldozer=2.0, light_vehicle=4.0, drill=1.0, loco=0.5
        )
    )
    # Fastest plausible speed per class, m/s (sprint; 60 km/h loaded-truck governor; car 100 km/h; …).
    # Used by the GNSS jump filter and to reject garbage speeds (more than twice this is not a speed).
    max_speed: dict[str, float] = field(
        default_factory=lambda: _by_kind(
            person=7.0,
            haul_truck=17.0,
            excavator=3.0,
            bulldozer=4.0,
            light_vehicle=28.0,
            drill=2.0,
            loco=20.0,
        )
    )
    # Below this a tracker is standing: three times the Doppler speed noise of a DGNSS receiver
    # (~0.15 m/s) and slower than any vehicle that is actually driving. A standing vehicle cannot run
    # anybody over, so it never raises DANGER (only WARNING when someone is close).
    moving_speed: float = 0.5
    # Separation that counts as contact: two trackers each within 3 m (R95, item 597) give a combined
    # R95 of √(3² + 3²) = 4.2 m, rounded up. The WARNING ring doubles it.
    danger_r0: float = 5.0
    warning_r0: float = 10.0
    # WARNING uses 1.5 × the stopping distance and stopping time so it comes well before DANGER.
    warning_scale: float = 1.5
    # Added to the TCPA horizon (stopping time) so the alarm also covers the buzzer being noticed.
    danger_margin_s: float = 1.0
    warning_margin_s: float = 3.0
    # Constant-velocity prediction is not worth more than this on haul roads with bends (a 50 m bend at
    # 10 m/s turns a truck by 90° in 8 s): pairs further ahead in time are not alarmed.
    horizon_max_s: float = 25.0
    # Hysteresis: a level is kept while the pair is within radii and horizons stretched by this factor,
    # and is only lowered once the pair has been outside them for clear_s without a break (eight 4 Hz
    # reports), so GNSS noise of σ ≈ 1 m per tracker does not make it flap.
    exit_factor: float = 1.3
    clear_s: float = 2.0
    # The source: "pressed the button: the tracker is silent until leaving the 3 m zone".
    mute_radius: float = 3.0
    mute_exit_radius: float = 4.0
    # Aboard: a person within 3 m of a moving vehicle, at the same velocity within 1 m/s, for 3 s.
    # Leaving: more than 6 m away or 2.5 m/s apart (walking away from a vehicle that keeps driving).
    aboard_radius: float = 3.0
    aboard_exit_radius: float = 6.0
    aboard_dv: float = 1.0
    aboard_exit_dv: float = 2.5
    aboard_s: float = 3.0
    # Track heading (packets carry none): direction from the newest earlier fix at least this far away,
    # so per-fix noise (σ ≈ 1 m) turns the heading by less than ~15°.
    heading_baseline_m: float = 5.0
    # Another tracker's last fix is moved along its velocity to the time of the report being checked,
    # but never by more than this (a lost tracker is not driven across the site).
    max_extrapolate_s: float = 5.0
    # GNSS jump filter: a fix further from the last one than 1.5 × the class's top speed allows, plus
    # 15 m (the multipath tail of a DGNSS fix), is held back; a second fix consistent with it accepts it.
    jump_speed_factor: float = 1.5
    jump_margin_m: float = 15.0
    # Silent tracker: nothing heard for k report intervals, and at least silent_min_s (at 4 Hz with 20 %
    # loss, 40 lost reports in a row do not happen by chance).
    silent_k: float = 5.0
    silent_min_s: float = 10.0
    # SOS goes to dispatch and to every tracker within this distance (a few hundred metres: who can help).
    sos_notify_m: float = 300.0
    # Garbage: coordinates further than this from the site origin, reports further than max_future_s
    # ahead of the engine clock or max_stale_s behind it are dropped.
    max_coordinate_m: float = 100_000.0
    max_future_s: float = 3600.0
    max_stale_s: float = 60.0
    # Overspeed clears below limit minus this (km/h), so a truck riding the limit does not flap.
    overspeed_hysteresis_kmh: float = 2.0
    # Zones: an entry clears once the tracker is this far outside; an approach clears at approach_m + this.
    zone_exit_m: float = 3.0
    # Adaptive reporting: 1 s when a threat could be within the warning ring in advice_near_s, 60 s when
    # alone or aboard; a standing vehicle is assumed able to reach start_speed when judging "alone".
    advice_min_s: float = 1.0
    advice_max_s: float = 60.0
    advice_near_s: float = 30.0
    start_speed: float = 3.0
    # Grid cell of the spatial index; the neighbour search radius (speed-dependent) is capped.
    cell_m: float = 200.0
    search_max_m: float = 600.0


@dataclass(slots=True)
class _Track:
    slot: int
    tracker: str
    site: str
    kind: Kind
    x: float
    y: float
    t: float
    heard: float
    cell: tuple[str, int, int]
    speed: float = 0.0
    heading: float | None = None
    history: deque[tuple[float, float]] = field(default_factory=lambda: deque(maxlen=8))
    interval: float = 1.0
    jump: tuple[float, float, float] | None = None
    sos: bool = False
    battery: str | None = None
    silent: bool = False
    aboard: int | None = None
    partners: set[int] = field(default_factory=set)
    zones: dict[str, int] = field(default_factory=dict)
    overspeed: dict[str, float] = field(default_factory=dict)
    overspeed_raised: set[str] = field(default_factory=set)
    # Derived values cached on the track so the pair check reads attributes, not arrays or dicts.
    person: bool = False
    vx: float = 0.0
    vy: float = 0.0
    radius_key: tuple[float, float] = (math.nan, math.nan)
    radius: float = 0.0
    window_key: tuple[object, ...] = ()
    window: list[tuple[tuple[str, int, int], set[int]]] = field(default_factory=list)


@dataclass(slots=True)
class _Pair:
    level: int = NONE
    out_since: float | None = None
    muted: bool = False
    mute_inside: bool = False
    aboard: bool = False
    aboard_since: float | None = None


@dataclass(frozen=True, slots=True)
class _Geometry:
    """One checked pair at one moment."""

    distance: float
    cpa: float
    tcpa: float
    dv: float
    level_in: int
    level_stay: int


@dataclass(slots=True)
class _ZoneShape:
    zone: Zone
    shape: Polygon
    bounds: tuple[float, float, float, float]


class Engine:
    """Collision and run-over warning for one or many sites (trackers are keyed by a unique id)."""

    # Per-slot state read by the compiled and vectorised checks, (re)allocated by ``_alloc``: position,
    # velocity, time of fix, speed and "is a vehicle", one float array each, written one element at a time
    # as reports arrive (an element write costs far less than a row of a structured array).
    _px: np.ndarray
    _py: np.ndarray
    _pvx: np.ndarray
    _pvy: np.ndarray
    _pt: np.ndarray
    _s: np.ndarray
    _veh: np.ndarray

    def __init__(
        self,
        config: EngineConfig | None = None,
        zones: Iterable[Zone] = (),
        mode: str = "base",
        own_id: str | None = None,
        registry: Collection[str] | None = None,
    ) -> None:
        if mode not in ("base", "tracker"):
            raise ValueError(f"mode: {mode!r} is not 'base' or 'tracker'")
        if mode == "tracker" and own_id is None:
            raise ValueError("own_id: tracker mode needs the id of the tracker the engine runs on")
        self.config = config or EngineConfig()
        self.mode = mode
        self.own_id = own_id
        self.registry = None if registry is None else frozenset(registry)
        self.stats: Counter[str] = Counter()
        self.clock: float | None = None
        self._zones = [_ZoneShape(z, Polygon(z.polygon), Polygon(z.polygon).bounds) for z in zones]
        for shape in self._zones:
            shapely.prepare(shape.shape)
        self._tracks: dict[str, _Track] = {}
        self._by_slot: list[_Track] = []
        self._grid: dict[tuple[str, int, int], set[int]] = {}
        # Each cell's members as arrays (all, vehicles only), rebuilt when the cell's membership changes.
        self._cell_arrays: dict[tuple[str, int, int], tuple[np.ndarray, np.ndarray]] = {}
        # Per site, bumped when a cell is created or emptied: a cached window stays valid until then.
        self._layout: Counter[str] = Counter()
        # A pair is looked at closely only when it passes (or is) within this distance.
        cfg = self.config
        self._near = max(cfg.warning_r0 * cfg.exit_factor, cfg.aboard_exit_radius)
        self._pairs: dict[tuple[int, int], _Pair] = {}
        self._min_decel = math.inf
        self._alloc(256)

    # ----------------------------------------------------------------------------------------- input
    def ingest(self, report: Report) -> list[AlarmEvent]:
        """Check one report; returns the alarm events it causes (never raises on bad input)."""
        reason = self._reject_reason(report)
        if reason:
            self.stats[f"dropped:{reason}"] += 1
            return []
        track = self._tracks.get(report.tracker)
        if track is not None and not self._accept_position(track, report):
            return self._health(track, report)
        self.stats["accepted"] += 1
        self.clock = report.t if self.clock is None else max(self.clock, report.t)
        track = self._update_track(track, report)
        events = self._health(track, report)
        events += self._check_pairs(track)
        if report.button is True:
            events += self._press_button(track)
        events += self._check_zones(track)
        return sorted(events, key=_priority) if len(events) > 1 else events

    def tick(self, now: float) -> list[AlarmEvent]:
        """Advance the clock; raises silent-tracker alarms."""
        if not _finite(now):
            self.stats["ignored:bad_tick"] += 1
            return []
        now = float(now)
        self.clock = now if self.clock is None else max(self.clock, now)
        if self.mode == "tracker":
            return []
        events = []
        for track in self._tracks.values():
            if not track.silent and self.clock - track.heard > self._silent_after(track):
                track.silent = True
                events.append(AlarmEvent(self.clock, "silent", Level.WARNING, (track.tracker,)))
        return events

    # -------------------------------------------------------------------------------------- queries
    def buzzer(self, tracker: str) -> Level | None:
        """The level the tracker's buzzer sounds now (highest unmuted alarm), None when silent."""
        track = self._tracks.get(tracker)
        if track is None:
            return None
        levels = [p.level for p in self._partner_pairs(track) if not p.muted and not p.aboard]
        levels += [DANGER if s == 2 else WARNING for s in track.zones.values() if s]
        levels += [DANGER] if track.sos else []
        best = max(levels, default=NONE)
        return LEVELS.get(best)

    def advice(self, tracker: str) -> float:
        """Recommended report interval in seconds: 1 s with a threat near, up to 60 s alone or aboard."""
        cfg = self.config
        track = self._tracks.get(tracker)
        if track is None:
            return cfg.advice_min_s
        if track.aboard is not None:
            return cfg.advice_max_s
        if any(p.level and not p.aboard for p in self._partner_pairs(track)):
            return cfg.advice_min_s
        reach = self._time_to_threat(track)
        return float(np.clip(reach - cfg.advice_near_s, cfg.advice_min_s, cfg.advice_max_s))

    def threats(self) -> dict[tuple[str, str], Level]:
        """Pairs alarming now (muted ones included, aboard ones not), by their ids."""
        out = {}
        for (i, j), pair in self._pairs.items():
            if pair.level and not pair.aboard:
                out[_pair_ids(self._by_slot[i], self._by_slot[j])] = LEVELS[pair.level]
        return out

    def position(self, tracker: str) -> tuple[float, float, float] | None:
        """Last accepted (t, x, y) of a tracker."""
        track = self._tracks.get(tracker)
        return None if track is None else (track.t, track.x, track.y)

    # ---------------------------------------------------------------------------------- validation
    def _reject_reason(self, report: Report) -> str | None:
        """Why a report cannot be used, or None."""
        try:
            kind = report.kind if type(report.kind) is Kind else Kind(report.kind)
        except (TypeError, ValueError):
            return "bad_value"
        values = (report.t, report.x, report.y, report.speed)
        if not all(type(v) is float or isinstance(v, numbers.Real) for v in values):
            return "bad_value"  # text such as "0" too: it would reach arithmetic and comparisons as text
        if not isinstance(report.tracker, str) or not report.tracker or not isinstance(report.site, str):
            return "bad_id"
        if self.registry is not None and report.tracker not in self.registry:
            return "unknown_id"
        if not all(map(_finite, values)):
            return "bad_value"
        return self._range_reason(report, kind)

    def _range_reason(self, report: Report, kind: Kind) -> str | None:
        cfg = self.config
        if abs(report.x) > cfg.max_coordinate_m or abs(report.y) > cfg.max_coordinate_m:
            return "bad_position"
        if not 0 <= report.speed <= 2 * cfg.max_speed[kind.value]:
            return "bad_speed"
        if self.clock is not None:
            if report.t > self.clock + cfg.max_future_s:
                return "future"
            if report.t < self.clock - cfg.max_stale_s:
                return "stale"
        track = self._tracks.get(report.tracker)
        if track is not None:
            if report.t <= track.t:
                return "out_of_order"
            if kind is not track.kind:
                return "kind_changed"
            if report.site != track.site:
                return "site_changed"
        return None

    def _accept_position(self, track: _Track, report: Report) -> bool:
        """GNSS jump filter: False when the fix is an implausible jump (held back as a candidate)."""
        cfg = self.config
        reach = cfg.max_speed[track.kind.value] * cfg.jump_speed_factor
        gap = report.t - track.t
        if math.hypot(report.x - track.x, report.y - track.y) <= reach * gap + cfg.jump_margin_m:
            track.jump = None
            return True
        jump = track.jump
        if jump is not None:
            since = report.t - jump[2]
            if (
                since > 0
                and math.hypot(report.x - jump[0], report.y - jump[1]) <= reach * since + cfg.jump_margin_m
            ):
                self.stats["relocated"] += 1
                track.jump = None
                track.history.clear()
                return True
        track.jump = (report.x, report.y, report.t)
        track.heard = max(track.heard, report.t)
        self.stats["dropped:gnss_jump"] += 1
        return False

    # --------------------------------------------------------------------------------------- tracks
    def _update_track(self, track: _Track | None, report: Report) -> _Track:
        if track is None:
            track = self._new_track(report)
        else:
            gap = report.t - track.t
            track.interval = min(max(0.8 * track.interval + 0.2 * gap, 0.1), self.config.advice_max_s)
            track.t = track.heard = report.t
            track.x, track.y = float(report.x), float(report.y)
        track.speed = float(report.speed)
        track.heading = self._heading(track, report)
        track.history.append((track.x, track.y))
        self._move_in_grid(track)
        self._store(track)
        return track

    def _new_track(self, report: Report) -> _Track:
        slot = len(self._by_slot)
        if slot >= len(self._s):
            self._alloc(2 * len(self._s))
        cell = self._cell(report.site, report.x, report.y)
        track = _Track(
            slot,
            report.tracker,
            report.site,
            Kind(report.kind),
            float(report.x),
            float(report.y),
            float(report.t),
            float(report.t),
            cell,
        )
        track.person = track.kind.is_person
        self._tracks[report.tracker] = track
        self._by_slot.append(track)
        self._veh[slot] = not track.person
        self._join_cell(cell, slot)
        if not track.person:
            self._min_decel = min(self._min_decel, self.config.decel[track.kind.value])
        return track

    def _heading(self, track: _Track, report: Report) -> float | None:
        """Reported heading when valid, else the direction from the newest fix far enough back."""
        heading = report.heading
        if heading is not None and _finite(heading):
            return float(heading) % 360.0
        if heading is not None:
            self.stats["ignored:bad_heading"] += 1
        for px, py in reversed(track.history):
            dx, dy = track.x - px, track.y - py
            if dx * dx + dy * dy >= self.config.heading_baseline_m**2:
                return math.degrees(math.atan2(dx, dy)) % 360.0
        return track.heading

    def _store(self, track: _Track) -> None:
        track.vx, track.vy = self._velocity(track)
        slot = track.slot
        self._px[slot], self._py[slot], self._pt[slot] = track.x, track.y, track.t
        self._pvx[slot], self._pvy[slot], self._s[slot] = track.vx, track.vy, track.speed

    def _velocity(self, track: _Track) -> tuple[float, float]:
        """Velocity vector; zero when standing or when the heading is still unknown (first fix)."""
        if track.speed < self.config.moving_speed or track.heading is None:
            return 0.0, 0.0
        h = math.radians(track.heading)
        return track.speed * math.sin(h), track.speed * math.cos(h)

    def _alloc(self, size: int) -> None:
        """(Re)allocate the per-slot arrays the compiled and vectorised checks read, keeping their values."""
        for name, kind in PER_SLOT.items():
            grown = np.zeros(size, dtype=kind)
            if hasattr(self, name):
                old = getattr(self, name)
                grown[: len(old)] = old
            setattr(self, name, grown)

    # ----------------------------------------------------------------------------------------- grid
    def _cell(self, site: str, x: float, y: float) -> tuple[str, int, int]:
        return site, int(x // self.config.cell_m), int(y // self.config.cell_m)

    def _move_in_grid(self, track: _Track) -> None:
        cell = self._cell(track.site, track.x, track.y)
        if cell != track.cell:
            members = self._grid[track.cell]
            members.discard(track.slot)
            self._cell_arrays.pop(track.cell, None)
            if not members:
                del self._grid[track.cell]
                self._layout[track.site] += 1
            self._join_cell(cell, track.slot)
            track.cell = cell

    def _join_cell(self, cell: tuple[str, int, int], slot: int) -> None:
        members = self._grid.get(cell)
        if members is None:
            members = self._grid[cell] = set()
            self._layout[cell[0]] += 1
        members.add(slot)
        self._cell_arrays.pop(cell, None)

    def _window(self, track: _Track, radius: float) -> list[tuple[tuple[str, int, int], set[int]]]:
        """Occupied cells (and their members) of the square of cells reaching ``radius`` from the track's.

        Cached on the track until it changes cell or span, or a cell of its site is created or emptied
        (the member sets themselves are live).
        """
        site, cx, cy = track.cell
        span = int(math.ceil(radius / self.config.cell_m))
        key = (track.cell, span, self._layout[site])
        if track.window_key == key:
            return track.window
        grid = self._grid
        found = []
        for i in range(cx - span, cx + span + 1):
            for j in range(cy - span, cy + span + 1):
                cell = (site, i, j)
                members = grid.get(cell)
                if members:
                    found.append((cell, members))
        track.window_key, track.window = key, found
        return found

    def _neighbours(self, track: _Track, radius: float) -> list[int]:
        return [slot for _, members in self._window(track, radius) for slot in members]

    def _cell_slots(self, cell: tuple[str, int, int]) -> tuple[np.ndarray, np.ndarray]:
        """A cell's members as arrays in the set's order: all of them, and the vehicles only."""
        members = self._grid[cell]
        every = np.fromiter(members, dtype=np.intp, count=len(members))
        cached = self._cell_arrays[cell] = (every, every[self._veh[every]])
        return cached

    def _search_radius(self, speed: float) -> float:
        """How far a pair can be and still alarm, given the faster party moves at ``speed``.

        Entry thresholds only: pairs already alarming are re-checked through the partner sets. The faster
        party of a pair finds the other (its search is the larger one); the slower one may find it one
        report later.
        """
        cfg = self.config
        f = cfg.exit_factor
        stop_t = cfg.reaction_s + speed / self._min_decel
        stop_d = speed * cfg.reaction_s + speed * speed / (2 * self._min_decel)
        horizon = min(cfg.warning_scale * stop_t + cfg.warning_margin_s, cfg.horizon_max_s)
        reach = max(horizon * 2 * speed, cfg.warning_scale * stop_d)
        return min(cfg.warning_r0 * f + reach, cfg.search_max_m)

    def _track_radius(self, track: _Track) -> float:
        """The track's search radius, recomputed only when its speed or the slowest brakes change."""
        key = (track.speed, self._min_decel)
        if track.radius_key != key:
            track.radius_key, track.radius = key, self._search_radius(track.speed)
        return track.radius

    # ---------------------------------------------------------------------------------------- pairs
    def _check_pairs(self, track: _Track) -> list[AlarmEvent]:
        """Pair rules: candidates passing close come first (in window order), then every current partner.

        A candidate that is not yet a partner only matters if it enters a level (a new pair); a partner is
        always re-checked, so its pair can clear.
        """
        partners = list(track.partners)
        events: list[AlarmEvent] = []
        for other, rel in self._passing_close(track):
            g = self._geometry(track, other, rel, entry_only=True)
            if g is not None:
                events += self._update_pair(track, other, g)
        for slot in partners:
            other = self._by_slot[slot]
            g = self._geometry(track, other, self._relative(track, other))
            if g is not None:
                events += self._update_pair(track, other, g)
        return events

    def _passing_close(self, track: _Track) -> list[tuple[_Track, tuple[float, float, float, float]]]:
        """Candidates (not partners) whose CPA is within the near ring, with their relative geometry."""
        if self.mode == "tracker" and track.tracker != self.own_id:
            own = self._tracks.get(self.own_id or "")
            found = [own] if own is not None and own.site == track.site else []
        else:
            window = self._window(track, self._track_radius(track))
            if sum([len(members) for _, members in window]) > SMALL_WINDOW:
                found = self._crowd_prefilter(track, window)
            else:
                found = self._few_prefilter(track, window)
        out = []
        skip, person, near = track.partners, track.person, self._near
        for other in found:
            if other is track or (person and other.person) or other.slot in skip:
                continue
            rel = self._relative(track, other)
            if rel[1] < near:
                out.append((other, rel))
        return out

    def _few_prefilter(self, track: _Track, window: list) -> list[_Track]:
        """``_crowd_prefilter`` for a handful of candidates, in plain floats (cheaper than numpy calls)."""
        m = self.config.max_extrapolate_s
        near2 = (self._near + 1e-6) ** 2
        t, x, y, vx, vy, person = track.t, track.x, track.y, track.vx, track.vy, track.person
        by_slot = self._by_slot
        out = []
        for _, members in window:
            for slot in members:
                other = by_slot[slot]
                if person and other.person:
                    continue
                age = t - other.t
                age = -m if age < -m else m if age > m else age
                ovx, ovy = other.vx, other.vy
                rx, ry = other.x + ovx * age - x, other.y + ovy * age - y
                wx, wy = ovx - vx, ovy - vy
                cross = rx * wy - ry * wx
                if rx * rx + ry * ry < near2 or cross * cross < near2 * (wx * wx + wy * wy):
                    out.append(other)
        return out

    def _crowd_prefilter(self, track: _Track, window: list) -> list[_Track]:
        """One pass over a crowded window (compiled, or numpy): the candidates that may pass within the
        near ring, a superset of CPA < near (the exact test follows)."""
        arrays, which = self._cell_arrays, 1 if track.person else 0
        parts = []
        for cell, _ in window:
            cached = arrays.get(cell)
            parts.append((cached or self._cell_slots(cell))[which])
        cand = np.concatenate(parts)
        own = (track.t, track.x, track.y, track.vx, track.vy)
        near = self._near + 1e-6  # rounding slack: never lose a pair the exact test keeps
        hits = kernels.passing_close(
            cand, self._px, self._py, self._pvx, self._pvy, self._pt, own, near, self.config.max_extrapolate_s
        )
        by_slot = self._by_slot
        return [by_slot[slot] for slot in hits.tolist()]

    def _relative(self, a: _Track, b: _Track) -> tuple[float, float, float, float]:
        """Distance, CPA, TCPA and relative speed of ``b`` seen from ``a`` (see ``closest_approach``).

        ``b``'s last fix is moved along its velocity to ``a``'s time (at most max_extrapolate_s).
        """
        m = self.config.max_extrapolate_s
        age = a.t - b.t
        age = -m if age < -m else m if age > m else age
        rx = b.x + b.vx * age - a.x
        ry = b.y + b.vy * age - a.y
        wx, wy = b.vx - a.vx, b.vy - a.vy
        w2 = wx * wx + wy * wy
        tcpa = -(rx * wx + ry * wy) / w2 if w2 > 1e-9 else 0.0
        ahead = tcpa if tcpa > 0.0 else 0.0
        return math.hypot(rx, ry), math.hypot(rx + wx * ahead, ry + wy * ahead), tcpa, math.hypot(wx, wy)

    def _geometry(
        self, a: _Track, b: _Track, rel: tuple[float, float, float, float], entry_only: bool = False
    ) -> _Geometry | None:
        """The pair's levels at this moment; None when ``entry_only`` and no level is entered."""
        d, cpa, tcpa, dv = rel
        speed, decel = self._pair_vehicle(a, b)
        level_in = self.level(d, cpa, tcpa, speed, decel, 1.0)
        if entry_only and level_in == NONE:
            return None
        level_stay = self.level(d, cpa, tcpa, speed, decel, self.config.exit_factor)
        return _Geometry(d, cpa, tcpa, dv, level_in, level_stay)

    def _pair_vehicle(self, a: _Track, b: _Track) -> tuple[float, float]:
        """Speed and braking of the vehicle whose stopping sets a pair's radii.

        Person–vehicle: the vehicle. Vehicle–vehicle: the faster speed with the weaker brakes.
        """
        decel = self.config.decel
        if a.person or b.person:
            vehicle = b if a.person else a
            return vehicle.speed, decel[vehicle.kind.value]
        return max(a.speed, b.speed), min(decel[a.kind.value], decel[b.kind.value])

    def level(self, d: float, cpa: float, tcpa: float, v: float, a: float, stretch: float = 1.0) -> int:
        """Level of a pair (0, WARNING=1, DANGER=2); radii and horizons stretched by ``stretch``.

        ``stretch`` is 1 to enter a level and exit_factor to stay in it. A level holds when the pair is
        inside r0 now, or will pass within r0 (CPA) either within the stopping time plus margin (TCPA
        horizon) or while already inside the stopping radius r = r0 + v·t_react + v²/2a (closing slowly
        on someone the vehicle could not stop for). DANGER needs the vehicle to move.
        """
        cfg = self.config
        stop_d = v * cfg.reaction_s + v * v / (2 * a)
        stop_t = cfg.reaction_s + v / a
        if v >= cfg.moving_speed and self._hit(
            d, cpa, tcpa, stop_d, stop_t, cfg.danger_r0, 1.0, cfg.danger_margin_s, stretch
        ):
            return DANGER
        if self._hit(
            d, cpa, tcpa, stop_d, stop_t, cfg.warning_r0, cfg.warning_scale, cfg.warning_margin_s, stretch
        ):
            return WARNING
        return NONE

    def _hit(
        self,
        d: float,
        cpa: float,
        tcpa: float,
        stop_d: float,
        stop_t: float,
        r0: float,
        scale: float,
        margin: float,
        stretch: float,
    ) -> bool:
        r0s = r0 * stretch
        if d < r0s:
            return True
        if cpa >= r0s or tcpa < 0:
            return False
        horizon = min(scale * stop_t + margin, self.config.horizon_max_s) * stretch
        return tcpa <= horizon or d < r0s + scale * stop_d * stretch

    def _pair_type(self, a: _Track, b: _Track) -> str:
        return "run_over" if a.kind.is_person or b.kind.is_person else "collision"

    def _update_pair(self, track: _Track, other: _Track, g: _Geometry) -> list[AlarmEvent]:
        key = (min(track.slot, other.slot), max(track.slot, other.slot))
        pair = self._pairs.get(key)
        if self._carried_elsewhere(track, other):
            return self._drop_pair(key, pair, track, other, g) if pair else []
        if pair is None:
            if g.level_in == NONE:
                return []
            pair = self._pairs[key] = _Pair()
            track.partners.add(other.slot)
            other.partners.add(track.slot)
        aboard = self._aboard_update(pair, track, other, g)
        if aboard == "boarded":
            return self._boarded(pair, track, other, g)
        if aboard == "aboard":
            return []
        events = [self._aboard_event(track, other, g, "cleared")] if aboard == "left" else []
        return events + self._level_update(key, pair, track, other, g)

    def _carried_elsewhere(self, track: _Track, other: _Track) -> bool:
        """An aboard person is protected by the vehicle carrying them, not alarmed against others."""
        person, vehicle = (track, other) if track.kind.is_person else (other, track)
        return person.kind.is_person and person.aboard is not None and person.aboard != vehicle.slot

    def _level_update(self, key: tuple[int, int], pair: _Pair, a: _Track, b: _Track, g: _Geometry) -> list:
        cfg = self.config
        old = pair.level
        if g.level_stay >= old:
            pair.out_since = None
        elif pair.out_since is None:
            pair.out_since = a.t
        if g.level_in > old:
            new = g.level_in
        elif pair.out_since is None or a.t - pair.out_since < cfg.clear_s:
            new = old
        else:
            new = g.level_stay
        if new == NONE:
            return self._drop_pair(key, pair, a, b, g)
        unmuted = pair.muted and self._unmute(pair, g, new > old)
        if new != old:
            pair.level, pair.out_since = new, None
        if (new != old or unmuted) and not pair.muted:
            return [self._pair_event(a, b, g, new, "raised")]
        return []

    def _unmute(self, pair: _Pair, g: _Geometry, rising: bool) -> bool:
        """A mute lasts until the wearer leaves the 3 m zone, or the threat escalates from outside it."""
        cfg = self.config
        if g.distance <= cfg.mute_radius:
            pair.mute_inside = True
            return False
        if rising or (pair.mute_inside and g.distance > cfg.mute_exit_radius):
            pair.muted = pair.mute_inside = False
            return True
        return False

    def _drop_pair(
        self, key: tuple[int, int], pair: _Pair | None, a: _Track, b: _Track, g: _Geometry
    ) -> list:
        del self._pairs[key]
        a.partners.discard(b.slot)
        b.partners.discard(a.slot)
        if pair is None or pair.level == NONE or pair.aboard:
            return []
        return [self._pair_event(a, b, g, pair.level, "cleared")]

    def _pair_event(self, a: _Track, b: _Track, g: _Geometry, level: int, state: str) -> AlarmEvent:
        ids = _pair_ids(a, b)
        tcpa = g.tcpa if g.tcpa > 0 else 0.0
        return AlarmEvent(
            a.t,
            self._pair_type(a, b),
            LEVELS[level],
            ids,
            state,
            round(g.distance, 2),
            round(g.cpa, 2),
            round(tcpa, 2),
        )

    # ------------------------------------------------------------------------------------ mute, aboard
    def _press_button(self, track: _Track) -> list[AlarmEvent]:
        """The wearer's button silences every threat that is alarming right now."""
        events = []
        for pair, other in self._pairs_of(track):
            if pair.level and not pair.muted and not pair.aboard:
                pair.muted = True
                pair.mute_inside = self._distance(track, other) <= self.config.mute_radius
                ids = (track.tracker, other.tracker)
                events.append(
                    AlarmEvent(
                        track.t,
                        self._pair_type(track, other),
                        LEVELS[pair.level],
                        ids,
                        "muted",
                        round(self._distance(track, other), 2),
                    )
                )
        return events

    def _aboard_update(self, pair: _Pair, a: _Track, b: _Track, g: _Geometry) -> str | None:
        """Aboard state of a person–vehicle pair: "boarded", "aboard", "left" or None (not aboard)."""
        cfg = self.config
        if a.kind.is_person == b.kind.is_person:
            return None
        person, vehicle = (a, b) if a.kind.is_person else (b, a)
        if pair.aboard:
            if g.distance > cfg.aboard_exit_radius or g.dv > cfg.aboard_exit_dv:
                pair.aboard, pair.aboard_since, person.aboard = False, None, None
                return "left"
            return "aboard"
        together = (
            g.distance < cfg.aboard_radius and g.dv < cfg.aboard_dv and vehicle.speed >= cfg.moving_speed
        )
        if not together:
            pair.aboard_since = None
            return None
        pair.aboard_since = a.t if pair.aboard_since is None else pair.aboard_since
        if a.t - pair.aboard_since < cfg.aboard_s:
            return None
        pair.aboard, person.aboard = True, vehicle.slot
        return "boarded"

    def _boarded(self, pair: _Pair, a: _Track, b: _Track, g: _Geometry) -> list[AlarmEvent]:
        """The pair's alarm ends (the person rides the vehicle); dispatch learns who rides what."""
        events = [self._pair_event(a, b, g, pair.level, "cleared")] if pair.level else []
        pair.level, pair.muted, pair.mute_inside = NONE, False, False
        return [*events, self._aboard_event(a, b, g, "raised")]

    def _aboard_event(self, a: _Track, b: _Track, g: _Geometry, state: str) -> AlarmEvent:
        return AlarmEvent(a.t, "aboard", Level.INFO, _pair_ids(a, b), state, round(g.distance, 2))

    def _pairs_of(self, track: _Track) -> list[tuple[_Pair, _Track]]:
        out = []
        for slot in track.partners:
            pair = self._pairs.get((min(slot, track.slot), max(slot, track.slot)))
            if pair is not None:
                out.append((pair, self._by_slot[slot]))
        return out

    def _partner_pairs(self, track: _Track) -> list[_Pair]:
        return [pair for pair, _ in self._pairs_of(track)]

    def _distance(self, a: _Track, b: _Track) -> float:
        return math.hypot(a.x - b.x, a.y - b.y)

    # ----------------------------------------------------------------------------------------- health
    def _health(self, track: _Track, report: Report) -> list[AlarmEvent]:
        """SOS, battery and silent-cleared events of a report (also of a held-back GNSS jump)."""
        events = []
        if track.silent:
            track.silent = False
            if self.mode == "base":
                events.append(AlarmEvent(report.t, "silent", Level.WARNING, (track.tracker,), "cleared"))
        events += self._sos(track, report)
        events += self._battery(track, report)
        return events

    def _sos(self, track: _Track, report: Report) -> list[AlarmEvent]:
        sos = report.sos is True
        if sos == track.sos:
            return []
        track.sos = sos
        own = self.own_id
        near = self._near_ids(track, self.config.sos_notify_m)
        if self.mode == "tracker" and track.tracker != own and own not in near:
            return []
        detail: dict[str, float | str] = {"notify": ",".join(near)}
        return [
            AlarmEvent(
                report.t, "sos", Level.DANGER, (track.tracker,), "raised" if sos else "cleared", detail=detail
            )
        ]

    def _near_ids(self, track: _Track, radius: float) -> list[str]:
        cand = np.array([s for s in self._neighbours(track, radius) if s != track.slot], dtype=np.intp)
        if cand.size == 0:
            return []
        close = np.hypot(self._px[cand] - track.x, self._py[cand] - track.y) <= radius
        return sorted(self._by_slot[int(s)].tracker for s in cand[close])

    def _battery(self, track: _Track, report: Report) -> list[AlarmEvent]:
        battery = report.battery if report.battery in ("ok", "first_empty", "both_empty") else None
        if battery is None or battery == track.battery or not self._concerns(track):
            return []
        old, track.battery = track.battery, battery
        if battery == "ok":
            if old in (None, "ok"):
                return []
            return [AlarmEvent(report.t, "low_battery", Level.WARNING, (track.tracker,), "cleared")]
        level = Level.DANGER if battery == "both_empty" else Level.WARNING
        return [AlarmEvent(report.t, "low_battery", level, (track.tracker,), detail={"battery": battery})]

    def _concerns(self, track: _Track) -> bool:
        return self.mode == "base" or track.tracker == self.own_id

    def _silent_after(self, track: _Track) -> float:
        return max(self.config.silent_k * track.interval, self.config.silent_min_s)

    def _time_to_threat(self, track: _Track) -> float:
        """Seconds before any counterpart could reach the warning ring, at worst-case closing speed."""
        cfg = self.config
        slots = np.array(
            [t.slot for t in self._by_slot if t.site == track.site and t.slot != track.slot], dtype=np.intp
        )
        if track.kind.is_person and slots.size:
            slots = slots[self._veh[slots]]
        if slots.size == 0:
            return math.inf
        d = np.hypot(self._px[slots] - track.x, self._py[slots] - track.y) - cfg.warning_r0
        closing = track.speed + np.maximum(self._s[slots], cfg.start_speed)
        return float(np.min(np.maximum(d, 0.0) / closing))

    # ------------------------------------------------------------------------------------------ zones
    def _check_zones(self, track: _Track) -> list[AlarmEvent]:
        if not self._zones or not self._concerns(track):
            return []
        events: list[AlarmEvent] = []
        for shape in self._zones:
            local = self._zone_frame(shape.zone, track)
            if local is None:
                continue
            distance = self._zone_distance(shape, *local)
            if shape.zone.kind != "speed":
                events += self._zone_state(track, shape.zone, distance)
            events += self._overspeed(track, shape.zone, distance <= 0.0)
        return events

    def _zone_frame(self, zone: Zone, track: _Track) -> tuple[float, float] | None:
        """The tracker's position in the zone's frame (relative to the followed tracker for moving zones)."""
        if zone.follows is None:
            return track.x, track.y
        anchor = self._tracks.get(zone.follows)
        if anchor is None or anchor is track or anchor.site != track.site:
            return None
        age = min(max(track.t - anchor.t, 0.0), self.config.max_extrapolate_s)
        return track.x - (anchor.x + anchor.vx * age), track.y - (anchor.y + anchor.vy * age)

    def _zone_distance(self, shape: _ZoneShape, x: float, y: float) -> float:
        """0 inside the polygon, else the distance to it (inf when clearly far: bounding box test)."""
        reach = shape.zone.approach_m + self.config.zone_exit_m
        x0, y0, x1, y1 = shape.bounds
        if x < x0 - reach or x > x1 + reach or y < y0 - reach or y > y1 + reach:
            return math.inf
        if shapely.contains_xy(shape.shape, x, y):
            return 0.0
        return float(shapely.distance(shape.shape, shapely.Point(x, y)))

    def _zone_state(self, track: _Track, zone: Zone, distance: float) -> list[AlarmEvent]:
        cfg = self.config
        old = track.zones.get(zone.name, 0)
        if distance <= 0.0 or (old == 2 and distance <= cfg.zone_exit_m):
            new = 2
        elif distance <= zone.approach_m or (old and distance <= zone.approach_m + cfg.zone_exit_m):
            new = 1
        else:
            new = 0
        if new == old:
            return []
        track.zones[zone.name] = new
        return self._zone_events(track, zone, old, new, distance)

    def _zone_events(
        self, track: _Track, zone: Zone, old: int, new: int, distance: float
    ) -> list[AlarmEvent]:
        names = {1: ("zone_approach", Level.WARNING), 2: ("zone_entry", Level.DANGER)}
        events = []
        dist = None if math.isinf(distance) else round(distance, 2)
        if old and new < old:
            kind, level = names[old]
            events.append(AlarmEvent(track.t, kind, level, (track.tracker,), "cleared", dist, zone=zone.name))
        if new and (new > old or old == 2):
            kind, level = names[new]
            events.append(AlarmEvent(track.t, kind, level, (track.tracker,), "raised", dist, zone=zone.name))
        return events

    def _overspeed(self, track: _Track, zone: Zone, inside: bool) -> list[AlarmEvent]:
        limits = zone.speed_limits
        limit = limits.get(track.kind.value, limits.get("*"))
        if limit is None:
            return []
        kmh = track.speed / KMH
        raised = zone.name in track.overspeed_raised
        if raised and (not inside or kmh < limit - self.config.overspeed_hysteresis_kmh):
            track.overspeed_raised.discard(zone.name)
            track.overspeed.pop(zone.name, None)
            return [self._overspeed_event(track, zone, limit, kmh, "cleared")]
        if not inside or kmh <= limit:
            track.overspeed.pop(zone.name, None)
            return []
        since = track.overspeed.setdefault(zone.name, track.t)
        if raised or track.t - since < zone.min_overspeed_s:
            return []
        track.overspeed_raised.add(zone.name)
        return [self._overspeed_event(track, zone, limit, kmh, "raised")]

    def _overspeed_event(self, track: _Track, zone: Zone, limit: float, kmh: float, state: str) -> AlarmEvent:
        detail: dict[str, float | str] = {"limit_kmh": limit, "speed_kmh": round(kmh, 1)}
        return AlarmEvent(
            track.t, "overspeed", Level.WARNING, (track.tracker,), state, zone=zone.name, detail=detail
        )


def closest_approach(
    rx: np.ndarray, ry: np.ndarray, wx: np.ndarray, wy: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Distance now, closest point of approach and time to it, for relative position r and velocity w.

    Constant velocity, as AIS collision avoidance does: TCPA = -(r·w)/|w|²; CPA is the distance at
    max(TCPA, 0), so a pair that is already separating has CPA = distance now (TCPA is then negative).
    """
    w2 = wx * wx + wy * wy
    moving = w2 > 1e-9
    tcpa = np.where(moving, -(rx * wx + ry * wy) / np.where(moving, w2, 1.0), 0.0)
    ahead = np.maximum(tcpa, 0.0)
    return np.hypot(rx, ry), np.hypot(rx + wx * ahead, ry + wy * ahead), tcpa


def _finite(value: object) -> bool:
    """A finite real number (text, None and containers are not numbers here, even "0")."""
    if type(value) is float:  # the usual case, without the slow abstract-class check below
        return math.isfinite(value)
    if not isinstance(value, numbers.Real):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:  # an int beyond the float range
        return False


def _pair_ids(a: _Track, b: _Track) -> tuple[str, str]:
    """Person first (run-over), else in id order (collision)."""
    if b.kind.is_person and not a.kind.is_person:
        return b.tracker, a.tracker
    if a.kind.is_person == b.kind.is_person and b.tracker < a.tracker:
        return b.tracker, a.tracker
    return a.tracker, b.tracker


def _priority(event: AlarmEvent) -> tuple[int, int]:
    level = {Level.DANGER: 0, Level.WARNING: 1, Level.INFO: 2}[event.level]
    return TYPE_PRIORITY.get(event.type, 9), level
