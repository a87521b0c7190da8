"""The shapes every gateway decoder answers, and the merging of one frame heard by several masts."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field


class IngestError(ValueError):
    """Input that cannot be taken: ``field`` names what is wrong (dotted path) and ``reason`` why."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field, self.reason = field, reason


@dataclass(frozen=True, slots=True)
class Uplink:
    """One radio frame as one mast (gateway) heard it.

    ``gateway``: the gateway EUI as 16 lowercase hex digits; ``payload``: the frame's bytes (a Tocsin
    tracker or station frame, not LoRaWAN); ``received``: Unix seconds (the gateway's GPS time when it
    gives one, else the moment we got it); ``rssi`` dBm and ``snr`` dB when known."""

    gateway: str
    payload: bytes
    received: float
    rssi: float | None = None
    snr: float | None = None
    frequency_hz: int | None = None
    spreading_factor: int | None = None
    crc_ok: bool = True


@dataclass(frozen=True, slots=True)
class MastStats:
    """A gateway's periodic status: frames received (with a good CRC), forwarded, downlinks, position."""

    gateway: str
    at: float
    received: int | None = None
    received_ok: int | None = None
    forwarded: int | None = None
    downlinks: int | None = None
    transmitted: int | None = None
    latitude: float | None = None
    longitude: float | None = None
    altitude: float | None = None


@dataclass(frozen=True, slots=True)
class MastState:
    """A gateway's connection state (the bridge's retained ``state/conn``): online or offline."""

    gateway: str
    online: bool


@dataclass(slots=True)
class Link:
    """How well one mast heard one frame."""

    gateway: str
    rssi: float | None
    snr: float | None


@dataclass(slots=True)
class _Heard:
    first: float
    links: list[Link] = field(default_factory=list)


def loudest(links: list[Link]) -> Link | None:
    """The hearing with the best RSSI, then SNR (unknown values last)."""
    if not links:
        return None
    return max(
        links, key=lambda k: (k.rssi if k.rssi is not None else -999, k.snr if k.snr is not None else -999)
    )


class UplinkMerger:
    """The same frame heard by several masts counts once: the first hearing goes on to the engine at once
    (no waiting for the others), later copies within ``window_s`` only add their mast's link quality.

    A tracker frame carries a sequence number, so two different reports of one site never share their
    bytes within a window; frames are told apart per ``site`` (two quarries' trackers may send the same
    bytes at the same moment: same id, same grid cell). At most ``keep`` frames are remembered."""

    def __init__(self, window_s: float = 2.0, keep: int = 100_000) -> None:
        self.window_s, self.keep = window_s, keep
        self._heard: OrderedDict[tuple[str, bytes], _Heard] = OrderedDict()
        self.copies = 0  # copies merged so far

    def add(self, uplink: Uplink, now: float, site: str = "") -> bool:
        """Record one hearing; True if it is the first within the window (pass it on), False if a copy."""
        self._forget(now)
        key = (site, uplink.payload)
        heard = self._heard.get(key)
        link = Link(uplink.gateway, uplink.rssi, uplink.snr)
        if heard is not None and now - heard.first < self.window_s:
            heard.links.append(link)
            self.copies += 1
            return False
        self._heard.pop(key, None)
        self._heard[key] = _Heard(now, [link])
        return True

    def links(self, payload: bytes, site: str = "") -> list[Link]:
        """Every mast that heard this frame within the window, first hearing first."""
        heard = self._heard.get((site, payload))
        return list(heard.links) if heard is not None else []

    def best_gateway(self, payload: bytes, site: str = "") -> str | None:
        """The mast that heard the frame loudest (RSSI, then SNR): where a downlink to its sender goes."""
        best = loudest(self.links(payload, site))
        return None if best is None else best.gateway

    def _forget(self, now: float) -> None:
        heard = self._heard
        while heard:
            payload, oldest = next(iter(heard.items()))
            if now - oldest.first < self.window_s and len(heard) <= self.keep:
                break
            heard.popitem(last=False)
