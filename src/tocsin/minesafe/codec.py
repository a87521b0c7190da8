"""Bit-exact radio packets (MSB first): the 37-bit tracker packet and the 655-bit base-station packet.

Tracker, 5 bytes: x 12 | y 11 | speed 8 (0.5 km/h) | sos 1 | id 5 | seq 3 (our use of the spare bits).
Base station, 82 bytes: station 5 | DGNSS east 15 | north 15 (cm, two's complement) | 20 slots of
x 12 | y 11 | speed 8 for tracker ids 0..19 (all ones = empty) | 1 pad bit, zero.
Buzzer command (mast → tracker, our own layout), 2 bytes: id 5 | level 2 (0 silence, 1 info, 2 warning,
3 danger) | spare 1, zero | seconds 8 (how long to sound, 0..255).
Decoding never trusts the air: wrong lengths and impossible values raise DecodeError with a reason.
"""

from __future__ import annotations

from dataclasses import dataclass

from tocsin.minesafe.model import Report
from tocsin.minesafe.site import X_BITS, Y_BITS, Site

SPEED_BITS = 8
SPEED_STEP_KMH = 0.5
ID_BITS = 5
SEQ_BITS = 3
TRACKER_BITS = X_BITS + Y_BITS + SPEED_BITS + 1 + ID_BITS  # 37, the source's figure
TRACKER_BYTES = 5
STATION_ID_BITS = 5
CORRECTION_BITS = 15
STATION_SLOTS = 20
SLOT_BITS = X_BITS + Y_BITS + SPEED_BITS  # 31
STATION_BITS = STATION_ID_BITS + 2 * CORRECTION_BITS + STATION_SLOTS * SLOT_BITS  # 655
STATION_BYTES = (STATION_BITS + 7) // 8  # 82
STATION_PAD_BITS = STATION_BYTES * 8 - STATION_BITS  # 1
BUZZER_BYTES = 2
BUZZER_LEVELS = ("SILENCE", "INFO", "WARNING", "DANGER")
CORRECTION_MIN = -(1 << (CORRECTION_BITS - 1))
CORRECTION_MAX = (1 << (CORRECTION_BITS - 1)) - 1
EMPTY_SLOT = (1 << SLOT_BITS) - 1


class DecodeError(ValueError):
    """A packet from the air cannot be used; ``reason`` says why (counted and dropped by ingestion)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class TrackerPacket:
    """Raw fields of a tracker packet: grid cell, speed in 0.5 km/h units, SOS, tracker id, seq mod 8."""

    x: int
    y: int
    speed: int
    sos: bool
    id: int
    seq: int = 0


@dataclass(frozen=True, slots=True)
class Slot:
    """One tracker's position and speed as a base station relays it."""

    x: int
    y: int
    speed: int


@dataclass(frozen=True, slots=True)
class StationPacket:
    """Raw fields of a base-station packet; ``slots[i]`` is tracker id i, None when not heard."""

    station: int
    east_cm: int
    north_cm: int
    slots: tuple[Slot | None, ...]

    @property
    def correction_m(self) -> tuple[float, float]:
        """The position-domain DGNSS correction (east, north) in metres."""
        return self.east_cm / 100.0, self.north_cm / 100.0


@dataclass(frozen=True, slots=True)
class BuzzerCommand:
    """Sound the tracker's buzzer at ``level`` (one of BUZZER_LEVELS) for ``seconds``."""

    id: int
    level: str
    seconds: int


class _Bits:
    """An MSB-first bit accumulator over a Python integer."""

    def __init__(self) -> None:
        self.value = 0
        self.length = 0

    def put(self, value: int, bits: int, name: str) -> None:
        if not 0 <= value < 1 << bits:
            raise ValueError(f"{name}: {value} does not fit in {bits} bits (0..{(1 << bits) - 1})")
        self.value = (self.value << bits) | value
        self.length += bits

    def to_bytes(self, size: int) -> bytes:
        pad = size * 8 - self.length
        return (self.value << pad).to_bytes(size, "big")


def _field(value: int, total: int, offset: int, bits: int) -> int:
    """Bits [offset, offset+bits) of a ``total``-bit MSB-first integer."""
    return (value >> (total - offset - bits)) & ((1 << bits) - 1)


def _check_bool(value: object, name: str) -> int:
    if not isinstance(value, bool):
        raise ValueError(f"{name}: must be a bool")
    return int(value)


def encode_tracker(packet: TrackerPacket) -> bytes:
    """The 5 bytes a tracker sends."""
    bits = _Bits()
    bits.put(packet.x, X_BITS, "x")
    bits.put(packet.y, Y_BITS, "y")
    bits.put(packet.speed, SPEED_BITS, "speed")
    bits.put(_check_bool(packet.sos, "sos"), 1, "sos")
    bits.put(packet.id, ID_BITS, "id")
    bits.put(packet.seq, SEQ_BITS, "seq")
    return bits.to_bytes(TRACKER_BYTES)


def encode_buzzer(command: BuzzerCommand) -> bytes:
    """The 2 bytes a mast sends to sound one tracker's buzzer."""
    if command.level not in BUZZER_LEVELS:
        raise ValueError(f"level: {command.level!r} is not one of {BUZZER_LEVELS}")
    bits = _Bits()
    bits.put(command.id, ID_BITS, "id")
    bits.put(BUZZER_LEVELS.index(command.level), 2, "level")
    bits.put(0, 1, "spare")
    bits.put(command.seconds, 8, "seconds")
    return bits.to_bytes(BUZZER_BYTES)


def decode_buzzer(data: bytes) -> BuzzerCommand:
    """A buzzer command's fields (what a tracker's firmware reads); a set spare bit is refused."""
    if not isinstance(data, bytes | bytearray) or len(data) != BUZZER_BYTES:
        raise DecodeError(f"buzzer command must be {BUZZER_BYTES} bytes, got {_length(data)}")
    value = int.from_bytes(data, "big")
    if value >> 8 & 1:
        raise DecodeError("buzzer command: the spare bit is set")
    return BuzzerCommand(id=value >> 11, level=BUZZER_LEVELS[value >> 9 & 3], seconds=value & 0xFF)


def decode_tracker(data: bytes) -> TrackerPacket:
    """Fields of a tracker packet; every 40-bit pattern is a valid packet, only the length can be wrong."""
    if not isinstance(data, bytes | bytearray) or len(data) != TRACKER_BYTES:
        raise DecodeError(f"tracker packet must be {TRACKER_BYTES} bytes, got {_length(data)}")
    value = int.from_bytes(data, "big")
    total = TRACKER_BYTES * 8
    offsets = (0, X_BITS, X_BITS + Y_BITS, X_BITS + Y_BITS + SPEED_BITS, TRACKER_BITS - ID_BITS, TRACKER_BITS)
    return TrackerPacket(
        x=_field(value, total, offsets[0], X_BITS),
        y=_field(value, total, offsets[1], Y_BITS),
        speed=_field(value, total, offsets[2], SPEED_BITS),
        sos=bool(_field(value, total, offsets[3], 1)),
        id=_field(value, total, offsets[4], ID_BITS),
        seq=_field(value, total, offsets[5], SEQ_BITS),
    )


def encode_station(packet: StationPacket) -> bytes:
    """The 82 bytes a base station sends."""
    if len(packet.slots) != STATION_SLOTS:
        raise ValueError(f"slots: need exactly {STATION_SLOTS}, got {len(packet.slots)}")
    bits = _Bits()
    bits.put(packet.station, STATION_ID_BITS, "station")
    for name, value in (("east_cm", packet.east_cm), ("north_cm", packet.north_cm)):
        if not CORRECTION_MIN <= value <= CORRECTION_MAX:
            raise ValueError(f"{name}: {value} is outside {CORRECTION_MIN}..{CORRECTION_MAX} cm")
        bits.put(value & ((1 << CORRECTION_BITS) - 1), CORRECTION_BITS, name)
    for i, slot in enumerate(packet.slots):
        bits.put(_slot_value(slot, i), SLOT_BITS, f"slots[{i}]")
    return bits.to_bytes(STATION_BYTES)


def _slot_value(slot: Slot | None, index: int) -> int:
    if slot is None:
        return EMPTY_SLOT
    bits = _Bits()
    bits.put(slot.x, X_BITS, f"slots[{index}].x")
    bits.put(slot.y, Y_BITS, f"slots[{index}].y")
    bits.put(slot.speed, SPEED_BITS, f"slots[{index}].speed")
    if bits.value == EMPTY_SLOT:
        raise ValueError(f"slots[{index}]: all ones is reserved for an empty slot")
    return bits.value


def decode_station(data: bytes) -> StationPacket:
    """Fields of a base-station packet; rejects a wrong length and non-zero padding."""
    if not isinstance(data, bytes | bytearray) or len(data) != STATION_BYTES:
        raise DecodeError(f"station packet must be {STATION_BYTES} bytes, got {_length(data)}")
    value = int.from_bytes(data, "big")
    if value & ((1 << STATION_PAD_BITS) - 1):
        raise DecodeError("station packet padding bits are not zero")
    value >>= STATION_PAD_BITS
    station = _field(value, STATION_BITS, 0, STATION_ID_BITS)
    east = _signed(_field(value, STATION_BITS, STATION_ID_BITS, CORRECTION_BITS))
    north = _signed(_field(value, STATION_BITS, STATION_ID_BITS + CORRECTION_BITS, CORRECTION_BITS))
    first = STATION_ID_BITS + 2 * CORRECTION_BITS
    slots = tuple(
        _slot(_field(value, STATION_BITS, first + i * SLOT_BITS, SLOT_BITS)) for i in range(STATION_SLOTS)
    )
    return StationPacket(station, east, north, slots)


def _slot(value: int) -> Slot | None:
    if value == EMPTY_SLOT:
        return None
    return Slot(
        x=_field(value, SLOT_BITS, 0, X_BITS),
        y=_field(value, SLOT_BITS, X_BITS, Y_BITS),
        speed=_field(value, SLOT_BITS, X_BITS + Y_BITS, SPEED_BITS),
    )


def _signed(value: int) -> int:
    return value - (1 << CORRECTION_BITS) if value & (1 << (CORRECTION_BITS - 1)) else value


def _length(data: object) -> str:
    return str(len(data)) if isinstance(data, bytes | bytearray) else type(data).__name__


def speed_code(speed_ms: float) -> int:
    """Packet speed units (0.5 km/h) of a speed in m/s; saturates at 127.5 km/h, the safe direction."""
    if not speed_ms >= 0:
        raise ValueError(f"speed: {speed_ms} m/s must be ≥ 0")
    return min(round(speed_ms * 3.6 / SPEED_STEP_KMH), (1 << SPEED_BITS) - 1)


def speed_ms(code: int) -> float:
    return code * SPEED_STEP_KMH / 3.6


def tracker_id(report: Report, site: Site) -> int:
    """The packet id of a report's tracker ("quarry:7" -> 7) on this site."""
    prefix, _, number = report.tracker.rpartition(":")
    if prefix != site.name or not number.isdigit() or int(number) not in site.trackers:
        raise ValueError(f"tracker: {report.tracker!r} is not a tracker of site {site.name!r}")
    return int(number)


def packet_from_report(report: Report, *, site: Site, seq: int = 0) -> TrackerPacket:
    """What a tracker would send for a fix; rejects points off the grid."""
    cx, cy = site.grid.quantise(report.x, report.y)
    return TrackerPacket(cx, cy, speed_code(report.speed), report.sos, tracker_id(report, site), seq % 8)


def report_from_packet(packet: TrackerPacket, *, site: Site, t: float) -> Report:
    """The engine's report for a decoded packet; an id the site does not know is a DecodeError."""
    info = site.trackers.get(packet.id)
    if info is None:
        raise DecodeError(f"tracker id {packet.id} is not registered on site {site.name!r}")
    x, y = site.grid.cell_centre(packet.x, packet.y)
    return Report(
        t=t,
        tracker=site.tracker_key(packet.id),
        kind=info.kind,
        x=x,
        y=y,
        speed=speed_ms(packet.speed),
        sos=packet.sos,
        site=site.name,
    )


def decode_tracker_report(data: bytes, *, site: Site, t: float) -> Report:
    """Bytes from the air straight to a report (raises DecodeError for anything unusable)."""
    return report_from_packet(decode_tracker(data), site=site, t=t)


def reports_from_station(packet: StationPacket, *, site: Site, t: float) -> list[Report]:
    """The reports a base station relays, for the ids the site knows (others are skipped)."""
    reports = []
    for tracker, slot in enumerate(packet.slots):
        if slot is None or tracker not in site.trackers:
            continue
        relayed = TrackerPacket(slot.x, slot.y, slot.speed, False, tracker)
        reports.append(report_from_packet(relayed, site=site, t=t))
    return reports


class Deduplicator:
    """Drops copies of one tracker packet heard by several masts (same id and seq within ``window_s``)."""

    def __init__(self, window_s: float = 0.5) -> None:
        self.window_s = window_s
        self._last: dict[int, tuple[int, float]] = {}

    def is_new(self, packet: TrackerPacket, t: float) -> bool:
        previous = self._last.get(packet.id)
        if previous is not None and previous[0] == packet.seq and abs(t - previous[1]) < self.window_s:
            return False
        self._last[packet.id] = (packet.seq, t)
        return True
