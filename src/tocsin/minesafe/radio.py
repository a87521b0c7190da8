"""LoRa radio budget: time on air (Semtech SX1276 datasheet, §4.1.1.7), the source's three channel
plans recomputed, and duty-cycle checks against regional sub-band rules.

The source left the radio budget "for after the contract" and its bit totals do not add up
(20 × 37 + 655 = 1395, not 1295; all on one channel is 20 × 37 + 3 × 655 = 2705, not 2035).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tocsin.minesafe.codec import STATION_BITS, STATION_BYTES, TRACKER_BITS, TRACKER_BYTES

LDRO_SYMBOL_S = 0.016  # Semtech: low-data-rate optimisation is mandated when a symbol lasts ≥ 16 ms
MAX_TRACKER_IDS = 32


@dataclass(frozen=True, slots=True)
class LoraParams:
    """Modem settings: ``cr`` 1..4 means coding rate 4/5..4/8; ``ldro`` None = automatic."""

    sf: int = 7
    bw_hz: float = 125_000.0
    cr: int = 1
    preamble: int = 8
    explicit_header: bool = True
    crc: bool = True
    ldro: bool | None = None

    def __post_init__(self) -> None:
        if not 6 <= self.sf <= 12:
            raise ValueError(f"sf: {self.sf} is outside 6..12")
        if self.sf == 6 and self.explicit_header:
            raise ValueError("sf: SF6 works only with an implicit header on the SX1276")
        if self.bw_hz <= 0:
            raise ValueError(f"bw_hz: {self.bw_hz} must be positive")
        if not 1 <= self.cr <= 4:
            raise ValueError(f"cr: {self.cr} is outside 1..4 (4/5..4/8)")
        if not 6 <= self.preamble <= 65535:
            raise ValueError(f"preamble: {self.preamble} is outside 6..65535")

    @property
    def symbol_s(self) -> float:
        return (1 << self.sf) / self.bw_hz

    @property
    def low_data_rate(self) -> bool:
        return self.ldro if self.ldro is not None else self.symbol_s >= LDRO_SYMBOL_S


def payload_symbols(payload_bytes: int, params: LoraParams) -> int:
    """Symbols after the preamble: 8 + max(ceil((8PL − 4SF + 28 + 16CRC − 20IH) / 4(SF − 2DE)) (CR+4), 0)."""
    if payload_bytes < 0 or payload_bytes > 255:
        raise ValueError(f"payload_bytes: {payload_bytes} is outside 0..255")
    numerator = 8 * payload_bytes - 4 * params.sf + 28 + 16 * params.crc - 20 * (not params.explicit_header)
    denominator = 4 * (params.sf - 2 * params.low_data_rate)
    return 8 + max(math.ceil(numerator / denominator) * (params.cr + 4), 0)


def time_on_air(payload_bytes: int, params: LoraParams) -> float:
    """Seconds on air of one packet: (preamble + 4.25) symbols plus the payload symbols."""
    return (params.preamble + 4.25 + payload_symbols(payload_bytes, params)) * params.symbol_s


@dataclass(frozen=True, slots=True)
class SubBand:
    """A regulated frequency range with its duty-cycle limit (fraction of any hour a device may send)."""

    name: str
    low_mhz: float
    high_mhz: float
    duty: float

    @property
    def width_hz(self) -> float:
        return (self.high_mhz - self.low_mhz) * 1e6


@dataclass(frozen=True, slots=True)
class RegionalProfile:
    name: str
    bands: tuple[SubBand, ...]


EU868 = RegionalProfile(
    "EU868",
    (
        SubBand("g", 863.0, 868.0, 0.01),
        SubBand("g1", 868.0, 868.6, 0.01),
        SubBand("g2", 868.7, 869.2, 0.001),
        SubBand("g3", 869.4, 869.65, 0.10),
        SubBand("g4", 869.7, 870.0, 0.01),
    ),
)


def profile_from_config(name: str, bands: Any) -> RegionalProfile:
    """A profile given as configuration (e.g. the Russian rules in the site file's ``radio.profiles``)."""
    path = f"radio.profiles.{name}"
    if not isinstance(bands, list) or not bands:
        raise ValueError(f"{path}: must be a non-empty list of bands")
    parsed = []
    for i, band in enumerate(bands):
        try:
            sub = SubBand(
                str(band["name"]), float(band["low_mhz"]), float(band["high_mhz"]), float(band["duty"])
            )
        except (KeyError, TypeError, ValueError) as error:
            raise ValueError(f"{path}[{i}]: needs name, low_mhz, high_mhz, duty ({error})") from error
        if not (sub.low_mhz < sub.high_mhz and 0 < sub.duty <= 1):
            raise ValueError(f"{path}[{i}]: needs low_mhz < high_mhz and 0 < duty ≤ 1")
        parsed.append(sub)
    return RegionalProfile(name, tuple(parsed))


def profiles(radio_config: dict[str, Any] | None = None) -> dict[str, RegionalProfile]:
    """Built-in EU868 plus any profiles a site file configures."""
    found = {EU868.name: EU868}
    for name, bands in ((radio_config or {}).get("profiles") or {}).items():
        found[name] = profile_from_config(name, bands)
    return found


@dataclass(frozen=True, slots=True)
class ChannelPlan:
    """How trackers and base stations share the air, per 1-s tracker cycle.

    ``trackers_per_channel`` and ``station_packets`` count packets on the busiest channel per cycle;
    ``station_every`` is how many cycles pass between two packets of the same station.
    """

    key: str
    title: str
    channels: int
    trackers_per_channel: int
    station_packets: int
    station_every: int
    source_bits: int

    @property
    def bits_per_cycle(self) -> int:
        return self.trackers_per_channel * TRACKER_BITS + self.station_packets * STATION_BITS


def source_plans(trackers: int = 20, stations: int = 3) -> list[ChannelPlan]:
    """Plans A, B (worst and average channel) and C of the source, with the bit totals it claimed."""
    average = math.ceil(trackers / stations)
    return [
        ChannelPlan("A", "one channel, time slots for all", 1, trackers, stations, 1, 2035),
        ChannelPlan("B", "channel per station, worst case", stations, trackers, 1, 1, 1295),
        ChannelPlan("B avg", "channel per station, trackers spread", stations, average, 1, 1, 914),
        ChannelPlan("C", "one channel, stations take turns every 3 s", 1, trackers, 1, stations, 1295),
    ]


def best_band(profile: RegionalProfile, *, channels: int, bw_hz: float) -> SubBand | None:
    """The sub-band with the most generous duty cycle that holds ``channels`` channels of ``bw_hz``."""
    fitting = [band for band in profile.bands if band.width_hz >= channels * bw_hz]
    return max(fitting, key=lambda band: band.duty, default=None)


def evaluate(
    plan: ChannelPlan, params: LoraParams, profile: RegionalProfile, *, guard_s: float
) -> dict[str, Any]:
    """One row of the plan table: air time, occupancy, duty cycles, capacity and feasible interval."""
    tracker_s = time_on_air(TRACKER_BYTES, params)
    station_s = time_on_air(STATION_BYTES, params)
    band = best_band(profile, channels=plan.channels, bw_hz=params.bw_hz)
    duty = band.duty if band else 0.0
    airtime = plan.trackers_per_channel * (tracker_s + guard_s) + plan.station_packets * (station_s + guard_s)
    tracker_duty = tracker_s / 1.0
    station_duty = station_s / plan.station_every
    return {
        "plan": plan.key,
        "title": plan.title,
        "sf": params.sf,
        "bw_khz": params.bw_hz / 1000,
        "band": band.name if band else "none fits",
        "duty_limit_pct": 100 * duty,
        "bits_per_cycle": plan.bits_per_cycle,
        "source_bits": plan.source_bits,
        "tracker_toa_ms": 1000 * tracker_s,
        "station_toa_ms": 1000 * station_s,
        "airtime_ms": 1000 * airtime,
        "occupancy_pct": 100 * airtime,
        "tracker_duty_pct": 100 * tracker_duty,
        "station_duty_pct": 100 * station_duty,
        "fits_1hz": band is not None and airtime <= 1.0 and max(tracker_duty, station_duty) <= duty,
        "max_trackers_1hz": _max_trackers(plan, tracker_s, station_s, guard_s, duty),
        "min_interval_s": _min_interval(plan, tracker_s, station_s, guard_s, duty),
    }


def _max_trackers(plan: ChannelPlan, tracker_s: float, station_s: float, guard_s: float, duty: float) -> int:
    """Trackers reporting at 1 Hz that the air and the trackers' own duty limit allow (≤ 32 ids)."""
    if duty <= 0 or tracker_s > duty:
        return 0
    free = 1.0 - plan.station_packets * (station_s + guard_s)
    per_channel = max(int(free // (tracker_s + guard_s)), 0)
    return min(per_channel * plan.channels, MAX_TRACKER_IDS)


def _min_interval(
    plan: ChannelPlan, tracker_s: float, station_s: float, guard_s: float, duty: float
) -> float:
    """Shortest report cycle meeting the air time, the trackers' and the stations' duty limits."""
    if duty <= 0:
        return math.inf
    air = plan.trackers_per_channel * (tracker_s + guard_s) + plan.station_packets * (station_s + guard_s)
    return max(air, tracker_s / duty, station_s / (duty * plan.station_every))


def plan_table(
    *,
    sfs: tuple[int, ...] = (7, 8, 9),
    bws_hz: tuple[float, ...] = (125e3, 250e3, 500e3),
    profile: RegionalProfile = EU868,
    trackers: int = 20,
    stations: int = 3,
    guard_s: float = 0.005,
    cr: int = 1,
) -> list[dict[str, Any]]:
    """Every source plan at every SF and bandwidth, as rows (list of dicts)."""
    rows = []
    for plan in source_plans(trackers, stations):
        for sf in sfs:
            for bw in bws_hz:
                rows.append(evaluate(plan, LoraParams(sf=sf, bw_hz=bw, cr=cr), profile, guard_s=guard_s))
    return rows


def write_plot(rows: list[dict[str, Any]], path: str | Path) -> Path:
    """PNG with channel occupancy and feasible report interval per plan, SF and bandwidth."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    figure, (occupancy, interval) = plt.subplots(1, 2, figsize=(12, 4.8))
    colours = {plan: f"C{i}" for i, plan in enumerate(dict.fromkeys(row["plan"] for row in rows))}
    dashes = ("-", "--", ":", "-.")
    styles = {bw: dashes[i % 4] for i, bw in enumerate(sorted({row["bw_khz"] for row in rows}))}
    for (plan, bw), series in _series(rows).items():
        sfs = [row["sf"] for row in series]
        look = {
            "color": colours[plan],
            "linestyle": styles.get(bw, "-"),
            "marker": "o",
            "label": f"{plan} {bw:g} kHz",
        }
        occupancy.plot(sfs, [row["occupancy_pct"] for row in series], **look)
        interval.plot(sfs, [_finite(row["min_interval_s"]) for row in series], **look)
    for axes in (occupancy, interval):
        axes.xaxis.get_major_locator().set_params(integer=True)
    occupancy.axhline(100, color="red", linestyle="--", linewidth=1)
    occupancy.set(xlabel="spreading factor", ylabel="channel occupancy per 1 s cycle, %", title="Air time")
    interval.axhline(1, color="red", linestyle="--", linewidth=1)
    interval.set(
        xlabel="spreading factor",
        ylabel="shortest report interval, s",
        yscale="log",
        title="Feasible interval (air + duty cycle)",
    )
    interval.legend(fontsize=7, ncol=2)
    figure.tight_layout()
    target = Path(path)
    figure.savefig(target, dpi=110)
    plt.close(figure)
    return target


def _series(rows: list[dict[str, Any]]) -> dict[tuple[str, float], list[dict[str, Any]]]:
    grouped: dict[tuple[str, float], list[dict[str, Any]]] = {}
    for row in rows:
        grouped.setdefault((row["plan"], row["bw_khz"]), []).append(row)
    return {key: sorted(series, key=lambda row: row["sf"]) for key, series in grouped.items()}


def _finite(value: float) -> float:
    return value if math.isfinite(value) else float("nan")
