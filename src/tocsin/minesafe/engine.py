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
import struct
from collections import Counter, deque
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import shapely
from shapely.geometry import Polygon

from tocsin.minesafe import kernels, rules
from tocsin.minesafe.model import AlarmEvent, Kind, Level, Report, Zone

NONE, WARNING, DANGER = rules.NONE, rules.WARNING, rules.DANGER
_NO_EVENTS: tuple[AlarmEvent, ...] = ()
LEVELS = {WARNING: Level.WARNING, DANGER: Level.DANGER}
KMH = 1 / 3.6
# A batch row for the kernels (kernels.ROW_* columns), packed straight into the rows array.
_COLUMNS, _EMPTY = kernels.ROW_COLUMNS, kernels.EMPTY
_ROW = struct.Struct(f"{_COLUMNS}d")
_PACK_ROW, _ROW_BYTES = _ROW.pack_into, _ROW.size

# Pedestrians first (the source's first worry is people run over by trucks they cannot be seen from).
TYPE_PRIORITY = {"sos": 0, "run_over": 1, "zone_entry": 2, "collision": 3, "zone_approach": 4, "overspeed": 5}


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
    site_index: int
    speed: float = 0.0
    heading: float | None = None
    history: deque[tuple[float, float]] = field(default_factory=lambda: deque(maxlen=8))
    # Every fix in ``history`` is within ``anchor_r`` of (anchor_x, anchor_y): when the new fix is near
    # the anchor, no earlier fix can be far enough to give a heading, and the search through the history
    # is skipped (a walker's 8 fixes span ~2 m).
    anchor_x: float = 0.0
    anchor_y: float = 0.0
    anchor_r: float = math.inf
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
    decel: float = 1.0
    speed_cap: float = 0.0  # ``Engine._speed_cap`` and ``_jump_speed`` of the track's kind
    jump_speed: float = 0.0
    vx: float = 0.0
    vy: float = 0.0
    # The search radius, for the speed and the slowest brakes it was computed with.
    radius: float = 0.0
    radius_speed: float = math.nan
    radius_decel: float = math.nan
    # The batch (``Engine._batch``) this track's latest report is pending in.
    batch: int = -1


@dataclass(slots=True)
class _Pair:
    level: int = NONE
    out_since: float | None = None
    muted: bool = False
    mute_inside: bool = False
    aboard: bool = False
    aboard_since: float | None = None


@dataclass(slots=True)
class _Geometry:
    """One checked pair at one moment (not frozen: a frozen dataclass is slower to build, and this one
    is built for every pair checked)."""

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

    # Per-slot arrays the kernels read and write, (re)allocated by ``_alloc``: floats (the last fix and
    # the braking deceleration) and integers (grid links, site number, "is a person"); see kernels.py.
    _state: np.ndarray
    _slots: np.ndarray

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
        self._site_index: dict[str, int] = {}
        self._pairs: dict[tuple[int, int], _Pair] = {}
        self._min_decel = math.inf
        cfg = self.config
        self._baseline2 = cfg.heading_baseline_m**2
        # Within this of every earlier fix (triangle inequality through the anchor, 0.1 % short of the
        # baseline so no rounding can matter) no earlier fix is a baseline away.
        self._anchor_reach = 0.999 * cfg.heading_baseline_m
        self._moving_speed = cfg.moving_speed
        self._jump_margin = cfg.jump_margin_m
        self._max_coordinate, self._max_future, self._max_stale = (
            cfg.max_coordinate_m,
            cfg.max_future_s,
            cfg.max_stale_s,
        )
        self._speed_cap = {kind: 2 * cfg.max_speed[kind.value] for kind in Kind}
        self._jump_speed = {kind: cfg.max_speed[kind.value] * cfg.jump_speed_factor for kind in Kind}
        self._advice_max = cfg.advice_max_s
        self._search_all = mode == "base"
        # A pair is looked at closely only when it passes (or is) within ``near``.
        near = max(cfg.warning_r0 * cfg.exit_factor, cfg.aboard_exit_radius)
        self.rule_params = (
            near,
            cfg.max_extrapolate_s,
            cfg.moving_speed,
            cfg.reaction_s,
            cfg.danger_r0,
            cfg.warning_r0,
            cfg.warning_scale,
            cfg.danger_margin_s,
            cfg.warning_margin_s,
            cfg.horizon_max_s,
            cfg.cell_m,
        )
        self._alloc(256)
        self._table = kernels.new_table(1024)
        self._room = 0  # new cells the table takes before ``_search`` looks at it again
        self._used = np.zeros(1, dtype=np.int64)
        self._out_ids = np.zeros((1024, 2), dtype=np.int64)
        self._out_geometry = np.zeros((1024, 4))
        self._before = np.zeros((1024, kernels.FIX_COLUMNS))
        # Reports admitted but not yet through the pair rules (see ``ingest_many``): per report (track or
        # None, health events, zone events, button), and per fix its row for the kernels (ROW_* columns),
        # the ``_count`` rows one after the other in the flat array ``_rows`` (written through ``_view``).
        self._pending: list[tuple[_Track | None, Sequence[AlarmEvent], Sequence[AlarmEvent], bool]] = []
        self._rows = np.zeros(1024 * _COLUMNS)
        self._view = self._rows.data
        self._count = 0
        self._capacity = 1024
        # The search for this engine's argument types (every array keeps its dtype and layout when grown).
        self._search_batch = kernels.bind(kernels.search_batch, 0, 0, 0, 0, *self._search_arrays())
        self._row_of: dict[int, int] | None = None
        self._batch = 0
        # Whether a pending report has events, a button press or partners (else, when the search finds
        # no new pair either, the pending reports need nothing more: the usual batch).
        self._eventful = False

    # ----------------------------------------------------------------------------------------- input
    def ingest(self, report: Report) -> list[AlarmEvent]:
        """Check one report; returns the alarm events it causes (never raises on bad input)."""
        return self.ingest_many((report,))

    def ingest_many(self, reports: Iterable[Report]) -> list[AlarmEvent]:
        """Check reports in the order given: exactly what ``ingest`` of each in turn would do, events in
        the same order, at a fraction of the cost (one compiled search for the whole batch).

        Nothing is kept back between calls: the caller bounds the batch (what arrived in the last few
        tens of milliseconds, see docs/minesafe.md), and a report's alarm waits at most that long.
        """
        out: list[AlarmEvent] = []
        admit = self._admit
        for report in reports:
            admit(report, out)
        self._flush(out)
        return out

    def _admit(self, report: Report, out: list[AlarmEvent]) -> None:
        """First half of a report: checks, the track's own state, health and zones. Pair rules wait for
        ``_flush``; a report whose handling needs the others' current fixes (an SOS change, a button
        press, a second report of a tracker already pending) flushes what is pending first."""
        tracker, t, x, y, speed, kind = (
            report.tracker,
            report.t,
            report.x,
            report.y,
            report.speed,
            report.kind,
        )
        track = self._tracks.get(tracker) if type(tracker) is str else None
        if (
            type(t) is float
            and type(x) is float
            and type(y) is float
            and type(speed) is float
            and type(kind) is Kind
            and type(tracker) is str
            and type(report.site) is str
            and tracker
            and math.isfinite(t + x + y + speed)
        ):  # the usual report in the fewest steps (a sum that overflows takes the full checks below)
            reason: str | None = None
            if self.registry is not None and tracker not in self.registry:
                reason = "unknown_id"
            elif track is not None and kind is track.kind:
                # ``_range_reason`` for a known tracker, in the fewest steps (the same checks in order)
                clock, most = self.clock, self._max_coordinate
                if not (-most <= x <= most and -most <= y <= most):
                    reason = "bad_position"
                elif not 0 <= speed <= track.speed_cap:
                    reason = "bad_speed"
                elif clock is not None and t > clock + self._max_future:
                    reason = "future"
                elif clock is not None and t < clock - self._max_stale:
                    reason = "stale"
                elif t <= track.t:
                    reason = "out_of_order"
                elif report.site != track.site:
                    reason = "site_changed"
            else:
                reason = self._range_reason(report, kind, track)
        else:
            reason = self._full_reason(report, track)
            if not reason:
                x, y, speed = float(x), float(y), float(speed)  # real numbers, not necessarily floats
        if reason:
            self.stats[f"dropped:{reason}"] += 1
            return
        sos, button = report.sos is True, report.button is True
        batch = self._batch
        if self._count and (
            button or sos != (track is not None and track.sos) or (track is not None and track.batch == batch)
        ):
            self._flush(out)
            batch = self._batch
        if track is not None:
            gap = t - track.t
            if math.hypot(x - track.x, y - track.y) <= track.jump_speed * gap + self._jump_margin:
                track.jump = None  # the usual fix (``_accept_position`` in the fewest steps)
            elif not self._accept_position(track, report):
                self._pending.append((None, self._health(track, report), (), False))
                self._eventful = True
                return
        clock = self.clock
        if clock is None or t > clock:
            self.clock = t
        # The track's new fix (``x``, ``y`` and ``speed`` are the report's, as floats).
        if track is None:
            track = self._new_track(report)
        else:
            t = report.t
            interval = 0.8 * track.interval + 0.2 * (t - track.t)
            interval = 0.1 if interval < 0.1 else interval
            track.interval = self._advice_max if interval > self._advice_max else interval
            track.t = track.heard = t
            track.x, track.y = x, y
        track.speed = speed
        near = math.hypot(x - track.anchor_x, y - track.anchor_y)
        if report.heading is None:  # the usual packet (no heading): ``_heading`` in the fewest steps
            heading = track.heading
            if near + track.anchor_r >= self._anchor_reach:  # an earlier fix may be a baseline away
                baseline2, far2 = self._baseline2, 0.0
                for px, py in reversed(track.history):
                    dx, dy = x - px, y - py
                    d2 = dx * dx + dy * dy
                    if d2 >= baseline2:
                        heading = math.degrees(math.atan2(dx, dy)) % 360.0
                        break
                    far2 = d2 if d2 > far2 else far2
                else:  # none is: this fix becomes the anchor
                    track.anchor_x, track.anchor_y, track.anchor_r, near = x, y, math.sqrt(far2), 0.0
            track.heading = heading
        else:
            heading = track.heading = self._heading(track, report)
        track.history.append((x, y))
        if near > track.anchor_r:
            track.anchor_r = near
        # Velocity: zero when standing or when the heading is still unknown (first fix).
        if speed < self._moving_speed or heading is None:
            track.vx, track.vy = 0.0, 0.0
        else:
            h = math.radians(heading)
            track.vx, track.vy = speed * math.sin(h), speed * math.cos(h)
        track.batch = batch
        usual = (
            not track.silent
            and sos == track.sos
            and (report.battery is None or report.battery is track.battery)
        )
        health = _NO_EVENTS if usual else self._health(track, report)
        zones = self._check_zones(track) if self._zones else _NO_EVENTS
        self._pending.append((track, health, zones, button))
        if health or zones or button or track.partners:
            self._eventful = True
        only = _EMPTY if self._search_all else self._only(track)
        speed = track.speed
        if track.radius_speed == speed and track.radius_decel == self._min_decel:
            radius = track.radius
        else:
            radius = self._track_radius(track)
        count = self._count
        if count == self._capacity:
            self._grow_rows()
        _PACK_ROW(
            self._view,
            count * _ROW_BYTES,
            track.slot,
            only,
            track.t,
            track.x,
            track.y,
            track.vx,
            track.vy,
            speed,
            radius,
        )
        self._count = count + 1
        if button:
            self._flush(out)

    def _only(self, track: _Track) -> int:
        """Which trackers the search looks at: -1 all around, else the one slot (tracker mode: a heard
        report is checked against the tracker the engine runs on only; -2: not on this site, none)."""
        if track.tracker == self.own_id:
            return kernels.EMPTY
        own = self._tracks.get(self.own_id or "")
        return own.slot if own is not None and own.site == track.site else -2

    def _flush(self, out: list[AlarmEvent]) -> None:
        """Second half of the pending reports, in order: the compiled search, then the pair rules."""
        pending = self._pending
        if not pending:
            return
        found = 0
        if self._count:
            self.stats["accepted"] += self._count
            found = self._search()
        if found or self._eventful:
            ids = self._out_ids[:found]
            geometry = self._out_geometry[:found].tolist()
            self._pair_rules(pending, ids[:, 0].tolist(), ids[:, 1].tolist(), geometry, out)
        pending.clear()
        self._count = 0
        self._row_of = None
        self._eventful = False
        self._batch += 1

    def _pair_rules(
        self,
        pending: list[tuple[_Track | None, Sequence[AlarmEvent], Sequence[AlarmEvent], bool]],
        rows: list[int],
        others: list[int],
        geometry: list[list[float]],
        out: list[AlarmEvent],
    ) -> None:
        """The pending reports' events in order: health, pairs (new ones the search found, and current
        partners), button, zones."""
        hits, hit, row = len(rows), 0, 0
        for track, health, zones, button in pending:
            if track is None:
                out += health
                continue
            if not (health or zones or button or track.partners) and (hit == hits or rows[hit] != row):
                row += 1
                continue  # the usual report: no pair, no event
            found = []
            while hit < len(rows) and rows[hit] == row:
                found.append((others[hit], geometry[hit]))
                hit += 1
            events = list(health)
            if found or track.partners:
                events += self._check_pairs(track, found, row)
            if button:
                events += self._press_button(track)
            events += zones
            out += sorted(events, key=_priority) if len(events) > 1 else events
            row += 1

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
        clock, k, floor = self.clock, self.config.silent_k, self.config.silent_min_s
        for track in self._tracks.values():
            if track.silent:
                continue
            quiet = clock - track.heard
            if quiet > floor and quiet > k * track.interval:  # silent for max(k intervals, floor)
                track.silent = True
                events.append(AlarmEvent(clock, "silent", Level.WARNING, (track.tracker,)))
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
    def _full_reason(self, report: Report, track: _Track | None) -> str | None:
        """Why a report cannot be used, or None, whatever its fields hold (``_admit`` checks the usual
        report in fewer steps)."""
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
        return self._range_reason(report, kind, track)

    def _range_reason(self, report: Report, kind: Kind, track: _Track | None) -> str | None:
        cfg = self.config
        if abs(report.x) > cfg.max_coordinate_m or abs(report.y) > cfg.max_coordinate_m:
            return "bad_position"
        if not 0 <= report.speed <= self._speed_cap[kind]:
            return "bad_speed"
        if self.clock is not None:
            if report.t > self.clock + cfg.max_future_s:
                return "future"
            if report.t < self.clock - cfg.max_stale_s:
                return "stale"
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
        reach = self._jump_speed[track.kind]
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
    def _new_track(self, report: Report) -> _Track:
        slot = len(self._by_slot)
        if slot >= len(self._state):
            self._alloc(2 * len(self._state))
        site = self._site_index.setdefault(report.site, len(self._site_index))
        track = _Track(
            slot,
            report.tracker,
            report.site,
            Kind(report.kind),
            float(report.x),
            float(report.y),
            float(report.t),
            float(report.t),
            site,
        )
        track.person = track.kind.is_person
        track.decel = self.config.decel[track.kind.value]
        track.speed_cap, track.jump_speed = self._speed_cap[track.kind], self._jump_speed[track.kind]
        self._tracks[report.tracker] = track
        self._by_slot.append(track)
        self._state[slot, kernels.DECEL] = track.decel
        self._slots[slot, kernels.SITE] = site
        self._slots[slot, kernels.PERSON] = track.person
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
        x, y, baseline2 = track.x, track.y, self._baseline2
        for px, py in reversed(track.history):
            dx, dy = x - px, y - py
            if dx * dx + dy * dy >= baseline2:
                return math.degrees(math.atan2(dx, dy)) % 360.0
        return track.heading

    def _alloc(self, size: int) -> None:
        """(Re)allocate the per-slot arrays the kernels read, keeping their values."""
        fresh = {
            "_state": np.zeros((size, kernels.DECEL + 1)),
            "_slots": np.full((size, kernels.PERSON + 1), kernels.EMPTY, dtype=np.int64),
        }
        for name, grown in fresh.items():
            old = getattr(self, name, None)
            if old is not None:
                grown[: len(old)] = old
            setattr(self, name, grown)

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
        if track.radius_speed != track.speed or track.radius_decel != self._min_decel:
            track.radius = self._search_radius(track.speed)
            track.radius_speed, track.radius_decel = track.speed, self._min_decel
        return track.radius

    # ---------------------------------------------------------------------------------- batch search
    def _search(self) -> int:
        """Run the pending fixes through the compiled search, in report order; returns how many pairs
        enter a level: (row, slot) in ``_out_ids`` and geometry in ``_out_geometry``, rows ascending. The
        per-slot arrays and the grid end up current."""
        n = self._count
        # A fix adds at most one cell: the table is only looked at once the fixes since it last was
        # could have filled it (``_fit_grid`` then decides exactly as if it were looked at every time).
        self._room -= n
        if self._room < 0:
            self._fit_grid(n)
            self._room = len(self._table) // 2 - int(self._used[0]) - n
        # ``_before`` has a row for every row of ``_rows`` (``_grow_rows`` grows both).
        done, found = self._search_batch(0, 0, 0, n, *self._search_arrays())
        while done < n:  # the output is full: twice the room, and on from the interrupted row
            self._out_ids = np.resize(self._out_ids, (2 * len(self._out_ids), 2))
            self._out_geometry = np.resize(self._out_geometry, (2 * len(self._out_geometry), 4))
            done, found = self._search_batch(done, done + 1, found, n, *self._search_arrays())
        return found

    def _search_arrays(self) -> tuple[Any, ...]:
        """The arrays the compiled search reads and writes, in its argument order."""
        return (
            self._rows,
            self._before,
            self._state,
            self._slots,
            self._table,
            self._used,
            self.rule_params,
            self._out_ids,
            self._out_geometry,
        )

    def _grow_rows(self) -> None:
        """Twice the room for pending rows, keeping those written (and as many rows in ``_before``)."""
        grown = np.zeros(2 * len(self._rows))
        grown[: len(self._rows)] = self._rows
        self._rows, self._view = grown, grown.data
        self._capacity = len(grown) // _COLUMNS
        self._before = np.zeros((self._capacity, kernels.FIX_COLUMNS))

    def _fit_grid(self, new_cells: int) -> None:
        """Keep the grid's hash table at most half full, counting one new cell per pending fix."""
        buckets = len(self._table)
        if 2 * (int(self._used[0]) + new_cells) <= buckets:
            return
        live = int(np.count_nonzero(self._table[:, kernels.HEAD] != kernels.EMPTY))
        while 2 * (live + new_cells) > buckets // 2:
            buckets *= 2
        self._table = kernels.new_table(buckets)
        self._used[0] = 0
        cell_m = self.rule_params[rules.CELL_M]
        kernels.rebuild_grid(
            len(self._by_slot),
            self._state,
            cell_m,
            self._slots,
            self._table,
            self._used,
        )

    # ---------------------------------------------------------------------------------------- pairs
    def _check_pairs(self, track: _Track, found: list[tuple[int, list[float]]], row: int) -> list[AlarmEvent]:
        """Pair rules of one report: the new pairs the search found (in its order), then every current
        partner, so its pair can clear. Other trackers are seen as they were at this report (``_as_of``)."""
        partners = list(track.partners)
        events: list[AlarmEvent] = []
        for slot, geometry in found:
            if slot in track.partners:
                continue
            other = self._by_slot[slot]
            later = self._as_of(other, row)
            g = self._geometry(track, other, geometry, entry_only=True)
            if g is not None:
                events += self._update_pair(track, other, g)
            if later is not None:
                _set_motion(other, later)
        for slot in partners:
            other = self._by_slot[slot]
            later = self._as_of(other, row)
            g = self._geometry(track, other, self._relative(track, other))
            if g is not None:
                events += self._update_pair(track, other, g)
            if later is not None:
                _set_motion(other, later)
        return events

    def _as_of(self, other: _Track, row: int) -> tuple[float, ...] | None:
        """Give ``other`` its motion at pending row ``row`` when its own report comes later in the batch;
        returns the motion to put back afterwards (None when nothing was changed)."""
        if other.batch != self._batch:
            return None
        if self._row_of is None:
            width = kernels.ROW_COLUMNS
            slots = self._rows[kernels.ROW_SLOT : self._count * width : width].astype(np.int64).tolist()
            self._row_of = {slot: i for i, slot in enumerate(slots)}
        own_row = self._row_of[other.slot]
        if own_row < row:
            return None
        later = (other.t, other.x, other.y, other.vx, other.vy, other.speed)
        _set_motion(other, self._before[own_row].tolist())
        return later

    def _relative(self, a: _Track, b: _Track) -> tuple[float, float, float, float]:
        """Distance, CPA, TCPA and relative speed of ``b`` seen from ``a`` (``rules.relative``)."""
        return rules.relative(
            a.t, a.x, a.y, a.vx, a.vy, b.t, b.x, b.y, b.vx, b.vy, self.config.max_extrapolate_s
        )

    def _geometry(
        self, a: _Track, b: _Track, rel: Sequence[float], entry_only: bool = False
    ) -> _Geometry | None:
        """The pair's levels at this moment; None when ``entry_only`` and no level is entered."""
        d, cpa, tcpa, dv = rel
        speed, decel = self._pair_vehicle(a, b)
        level_in = rules.level(d, cpa, tcpa, speed, decel, 1.0, self.rule_params)
        if entry_only and level_in == NONE:
            return None
        level_stay = rules.level(d, cpa, tcpa, speed, decel, self.config.exit_factor, self.rule_params)
        return _Geometry(d, cpa, tcpa, dv, level_in, level_stay)

    def _pair_vehicle(self, a: _Track, b: _Track) -> tuple[float, float]:
        """Speed and braking of the vehicle whose stopping sets a pair's radii.

        Person–vehicle: the vehicle. Vehicle–vehicle: the faster speed with the weaker brakes.
        """
        if a.person or b.person:
            vehicle = b if a.person else a
            return vehicle.speed, vehicle.decel
        return max(a.speed, b.speed), min(a.decel, b.decel)

    def level(self, d: float, cpa: float, tcpa: float, v: float, a: float, stretch: float = 1.0) -> int:
        """Level of a pair (0, WARNING=1, DANGER=2): ``rules.level`` with this engine's thresholds."""
        return rules.level(d, cpa, tcpa, v, a, stretch, self.rule_params)

    def _pair_type(self, a: _Track, b: _Track) -> str:
        return "run_over" if a.person or b.person else "collision"

    def _update_pair(self, track: _Track, other: _Track, g: _Geometry) -> list[AlarmEvent]:
        key = (track.slot, other.slot) if track.slot < other.slot else (other.slot, track.slot)
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
        person, vehicle = (track, other) if track.person else (other, track)
        return person.person and person.aboard is not None and person.aboard != vehicle.slot

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
        if a.person == b.person:
            return None
        person, vehicle = (a, b) if a.person else (b, a)
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
        if (
            not track.silent
            and (report.sos is True) == track.sos
            and (report.battery is None or report.battery is track.battery)
        ):
            return []  # the usual report: nothing changed
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
        """Trackers of the site within ``radius`` (rare: an SOS change; pending fixes are flushed)."""
        slots = self._site_slots(track)
        state = self._state
        close = np.hypot(state[slots, kernels.X] - track.x, state[slots, kernels.Y] - track.y) <= radius
        return sorted(self._by_slot[s].tracker for s in slots[close].tolist())

    def _site_slots(self, track: _Track) -> np.ndarray:
        """Every other slot on the track's site."""
        slots = np.flatnonzero(self._slots[: len(self._by_slot), kernels.SITE] == track.site_index)
        return slots[slots != track.slot]

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

    def _time_to_threat(self, track: _Track) -> float:
        """Seconds before any counterpart could reach the warning ring, at worst-case closing speed."""
        cfg = self.config
        slots = self._site_slots(track)
        if track.person and slots.size:
            slots = slots[self._slots[slots, kernels.PERSON] == 0]
        if slots.size == 0:
            return math.inf
        state = self._state
        d = np.hypot(state[slots, kernels.X] - track.x, state[slots, kernels.Y] - track.y) - cfg.warning_r0
        closing = track.speed + np.maximum(state[slots, kernels.SPEED], cfg.start_speed)
        return float(np.min(np.maximum(d, 0.0) / closing))

    # ------------------------------------------------------------------------------------------ zones
    @property
    def zones(self) -> tuple[Zone, ...]:
        """The zones the engine checks now."""
        return tuple(shape.zone for shape in self._zones)

    def set_zones(self, zones: Iterable[Zone]) -> list[AlarmEvent]:
        """Check ``zones`` from now on instead of the current ones (operators draw and remove zones while
        the engine runs). A zone kept by name keeps its trackers' states, so an unchanged zone raises
        nothing again; each zone alarm (approach, entry, overspeed) still open in a zone that is gone is
        cleared, at the tracker's latest fix time: the returned events."""
        shapes = []
        for zone in zones:
            polygon = Polygon(zone.polygon)
            shapely.prepare(polygon)
            shapes.append(_ZoneShape(zone, polygon, polygon.bounds))
        kept = {shape.zone.name for shape in shapes}
        gone = {shape.zone.name: shape.zone for shape in self._zones if shape.zone.name not in kept}
        self._zones = shapes
        events: list[AlarmEvent] = []
        if not gone:
            return events
        for track in self._tracks.values():
            for name in [name for name in track.zones if name in gone]:
                old = track.zones.pop(name)
                if old:
                    events += self._zone_events(track, gone[name], old, 0, math.inf)
            for name in [name for name in track.overspeed_raised if name in gone]:
                zone = gone[name]
                limit = zone.speed_limits.get(track.kind.value, zone.speed_limits.get("*", 0.0))
                track.overspeed_raised.discard(name)
                events.append(self._overspeed_event(track, zone, limit, track.speed / KMH, "cleared"))
            for name in [name for name in track.overspeed if name in gone]:
                track.overspeed.pop(name)
        return events

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


def _set_motion(track: _Track, motion: Sequence[float]) -> None:
    """Set a track's last fix: (t, x, y, vx, vy, speed), the kernels' state columns."""
    track.t, track.x, track.y, track.vx, track.vy, track.speed = motion


def _pair_ids(a: _Track, b: _Track) -> tuple[str, str]:
    """Person first (run-over), else in id order (collision)."""
    if b.person and not a.person:
        return b.tracker, a.tracker
    if a.person == b.person and b.tracker < a.tracker:
        return b.tracker, a.tracker
    return a.tracker, b.tracker


def _priority(event: AlarmEvent) -> tuple[int, int]:
    level = {Level.DANGER: 0, Level.WARNING: 1, Level.INFO: 2}[event.level]
    return TYPE_PRIORITY.get(event.type, 9), level
