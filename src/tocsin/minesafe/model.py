"""Shared value types of the minesafe desk: tracker classes, position reports, zones, alarm events.

Pure data, no I/O. The site loader (``site.py``), the simulator, the codec and the engine all speak
these types, so a report from the radio, from a phone or from the simulator reaches the engine the
same way.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Kind(StrEnum):
    """What a tracker is worn by or mounted on (the replay format's ``kind``)."""

    PERSON = "person"
    HAUL_TRUCK = "haul_truck"
    EXCAVATOR = "excavator"
    BULLDOZER = "bulldozer"
    LIGHT_VEHICLE = "light_vehicle"
    DRILL = "drill"
    LOCO = "loco"

    @property
    def is_person(self) -> bool:
        return self is Kind.PERSON


class Level(StrEnum):
    INFO = "INFO"
    WARNING = "WARNING"
    DANGER = "DANGER"


@dataclass(frozen=True, slots=True)
class Report:
    """One position report, in site metres (x east, y north) and seconds.

    ``tracker`` is unique across every site the engine watches (e.g. ``"quarry:7"``); ``heading`` is
    degrees clockwise from north, None when the packet carries none (the engine then estimates it from
    the track). ``battery`` is "ok", "first_empty" or "both_empty" when known (a radio tracker's two
    cells); ``battery_percent`` is a phone's charge when it says.
    """

    t: float
    tracker: str
    kind: Kind
    x: float
    y: float
    speed: float
    heading: float | None = None
    sos: bool = False
    button: bool = False
    battery: str | None = None
    site: str = "default"
    battery_percent: float | None = None


@dataclass(frozen=True, slots=True)
class Zone:
    """A polygon in site metres with a purpose.

    ``kind``: "blast", "pit_edge", "unstable_slope", "swing" (moving with ``follows``, a tracker id, e.g.
    an excavator's swing radius), or "speed" (a speed-limit area). ``speed_limits`` maps a Kind value (or
    "*") to km/h; ``min_overspeed_s`` is how long the limit must be exceeded before an alarm.
    """

    name: str
    kind: str
    polygon: tuple[tuple[float, float], ...]
    speed_limits: dict[str, float] = field(default_factory=dict)
    min_overspeed_s: float = 3.0
    follows: str | None = None
    approach_m: float = 10.0


@dataclass(frozen=True, slots=True)
class AlarmEvent:
    """What the engine tells dispatch and the trackers' buzzers.

    ``type``: collision, run_over, zone_approach, zone_entry, overspeed, sos, silent, low_battery;
    ``ids``: the trackers involved (one for zone, speed, sos, silent, battery alarms).
    ``state``: "raised", "cleared" or "muted".
    """

    t: float
    type: str
    level: Level
    ids: tuple[str, ...]
    state: str = "raised"
    distance: float | None = None
    cpa: float | None = None
    tcpa: float | None = None
    zone: str | None = None
    detail: dict[str, float | str] = field(default_factory=dict)
