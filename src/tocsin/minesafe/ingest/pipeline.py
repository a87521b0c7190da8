"""From what the masts hear to the engine's reports: the site of the mast, one report per frame however
many masts heard it, the tracker or station frame decoded, garbage counted and dropped.

The engine takes its input in bounded micro-batches (``Engine.ingest_many``, settled by issue 8): the
servers hand each report to ``Batcher.add`` and the batcher calls the engine when its window closes."""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace

from tocsin.minesafe.codec import (
    STATION_BYTES,
    TRACKER_BYTES,
    DecodeError,
    decode_station,
    decode_tracker_report,
    reports_from_station,
)
from tocsin.minesafe.engine import Engine
from tocsin.minesafe.ingest.osmand import PhoneFix
from tocsin.minesafe.ingest.uplinks import Link, Uplink, UplinkMerger, loudest
from tocsin.minesafe.model import AlarmEvent, Kind, Report
from tocsin.minesafe.replay import site_setup
from tocsin.minesafe.site import Site
from tocsin.minesafe.store import LinkQuality


@dataclass(frozen=True, slots=True)
class Phone:
    """A phone running Traccar Client, registered to one site and worn or carried as ``kind``."""

    device: str
    site: str
    kind: Kind = Kind.PERSON

    @property
    def tracker(self) -> str:
        """Its tracker id, unique across sites and apart from the radio trackers' ("quarry:7")."""
        return f"phone:{self.device}"


class Ingestion:
    """Turns uplinks into reports for the sites this process owns.

    ``gateways`` maps a mast's gateway EUI (16 lowercase hex digits) to its site's name; an uplink from
    a mast of another site (or an unknown one) is counted and dropped. ``counts`` says what happened to
    every input: ``reports``, ``copies`` (heard by another mast too), ``replayed`` (a position no newer
    than the tracker's last, e.g. re-sent after a broker restart), ``bad_crc``, ``refused:<reason>``."""

    def __init__(
        self,
        sites: Mapping[str, Site],
        gateways: Mapping[str, str],
        *,
        merger: UplinkMerger | None = None,
        phones: Mapping[str, Phone] | None = None,
    ) -> None:
        unknown = sorted({name for name in gateways.values() if name not in sites})
        if unknown:
            raise ValueError(f"gateways: sites {unknown} are not among the sites given")
        strays = sorted(device for device, phone in (phones or {}).items() if phone.site not in sites)
        if strays:
            raise ValueError(f"phones: {strays[:5]} belong to no site given")
        self.phones = dict(phones or {})
        self.sites = dict(sites)
        self.gateways = {eui.lower(): name for eui, name in gateways.items()}
        self.merger = merger or UplinkMerger()
        self._last_t: dict[str, float] = {}  # each tracker's latest position taken: none twice, none older
        self.heard: dict[str, Uplink] = {}  # each radio tracker's own latest frame (its first hearing)
        self.taken: set[str] | None = None  # the sites this process takes now (None: all of them)
        self.counts: Counter[str] = Counter()

    def reports(self, uplink: Uplink) -> list[Report]:
        """The reports one hearing carries: none for a copy, a bad frame or a mast of no site of ours."""
        site_name = self.gateways.get(uplink.gateway)
        if site_name is None:
            self.counts["refused:gateway"] += 1
            return []
        if self.taken is not None and site_name not in self.taken:
            self.counts["not_mine"] += 1
            return []
        if not uplink.crc_ok:
            self.counts["bad_crc"] += 1
            return []
        # Copies are told apart by when the masts heard them (GPS-synchronised, within milliseconds), not
        # by when they reached us, so a replay at any speed merges exactly what the air did.
        if not self.merger.add(uplink, uplink.received, site_name):
            self.counts["copies"] += 1
            return []
        try:
            found = self._decode(uplink, self.sites[site_name])
        except DecodeError:
            self.counts["refused:payload"] += 1
            return []
        fresh = self._fresh(found)
        if len(uplink.payload) == TRACKER_BYTES and fresh:
            self.heard[fresh[0].tracker] = uplink
        return fresh

    def takes(self, gateway: str) -> bool:
        """Whether this process takes a mast's traffic now (an unknown mast's is taken, to be counted)."""
        site = self.gateways.get(gateway)
        return site is None or self.taken is None or site in self.taken

    def engine_for(self, site: str) -> Engine:
        """A new engine for one of our sites: its zones and speed limits, its trackers and phones."""
        setup = site_setup(self.sites[site])
        phones = {phone.tracker for phone in self.phones.values() if phone.site == site}
        return Engine(None, setup.zones, registry=(setup.registry or frozenset()) | phones)

    def link_quality(self, tracker: str) -> LinkQuality | None:
        """How the masts heard a radio tracker's latest frame (None for a phone or one not heard)."""
        uplink = self.heard.get(tracker)
        if uplink is None:
            return None
        site = self.gateways.get(uplink.gateway, "")
        links = self.merger.links(uplink.payload, site) or [Link(uplink.gateway, uplink.rssi, uplink.snr)]
        best = loudest(links)
        assert best is not None
        return LinkQuality(best.rssi, best.snr, len({link.gateway for link in links}))

    def best_gateway(self, tracker: str) -> Uplink | None:
        """How to reach a radio tracker: its latest frame's hearing by the mast that heard it loudest
        (None for a phone, or a tracker not heard since this process started)."""
        uplink = self.heard.get(tracker)
        if uplink is None:
            return None
        best = self.merger.best_gateway(uplink.payload, self.gateways.get(uplink.gateway, ""))
        if best is None or best == uplink.gateway:
            return uplink
        return replace(uplink, gateway=best)

    def _fresh(self, found: list[Report]) -> list[Report]:
        """Only positions newer than the tracker's last: none twice, none going back in time."""
        fresh = []
        for report in found:
            if report.t > self._last_t.get(report.tracker, -math.inf):
                self._last_t[report.tracker] = report.t
                fresh.append(report)
        if len(fresh) < len(found):
            self.counts["replayed"] += len(found) - len(fresh)
        self.counts["reports"] += len(fresh)
        return fresh

    def phone_reports(self, fixes: list[PhoneFix]) -> list[Report]:
        """Phones' fixes as reports in site metres (an unregistered phone's are counted and dropped)."""
        reports = []
        for fix in fixes:
            phone = self.phones.get(fix.device)
            if phone is None:
                self.counts["refused:device"] += 1
                continue
            if self.taken is not None and phone.site not in self.taken:
                self.counts["not_mine"] += 1
                continue
            reports.append(self._phone_report(fix, phone))
        return self._fresh(reports)

    def _phone_report(self, fix: PhoneFix, phone: Phone) -> Report:
        grid = self.sites[phone.site].grid
        x, y = grid.to_local(fix.latitude, fix.longitude)
        heading = None if fix.heading is None else grid.grid_heading(fix.heading)
        return Report(
            t=fix.t,
            tracker=phone.tracker,
            kind=phone.kind,
            x=x,
            y=y,
            speed=fix.speed_mps or 0.0,
            heading=heading,
            sos=fix.sos,
            site=phone.site,
            battery_percent=fix.battery_percent,
        )

    @staticmethod
    def _decode(uplink: Uplink, site: Site) -> list[Report]:
        if len(uplink.payload) == TRACKER_BYTES:
            return [decode_tracker_report(uplink.payload, site=site, t=uplink.received)]
        if len(uplink.payload) == STATION_BYTES:
            return reports_from_station(decode_station(uplink.payload), site=site, t=uplink.received)
        raise DecodeError(f"a frame of {len(uplink.payload)} bytes is neither a tracker's nor a station's")


class Batcher:
    """Collects reports and hands them to the engines in one call per site per window (``window_s``), so a
    report's alarm waits at most one window; ``on_events`` gets the engines' alarm events.

    One engine per site (``new_engine`` makes them): trackers of two quarries, each in its own site
    metres, are never compared, and a site handed to another process is dropped whole (``drop``).
    ``tick`` advances each engine's clock so that silent trackers are noticed: engine time is the
    reports' own (GPS) time, carried forward by the time elapsed since the newest report arrived."""

    def __init__(
        self,
        new_engine: Callable[[str], Engine],
        on_events: Callable[[list[AlarmEvent]], None],
        *,
        window_s: float = 0.04,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.new_engine, self.on_events = new_engine, on_events
        self.window_s, self.clock = window_s, clock
        self.engines: dict[str, Engine] = {}
        self._pending: list[Report] = []
        self._opened: float | None = None
        self._newest: dict[str, tuple[float, float]] = {}  # site → (newest report time, when it came)

    def engine(self, site: str) -> Engine:
        found = self.engines.get(site)
        if found is None:
            found = self.engines[site] = self.new_engine(site)
        return found

    def add(self, reports: list[Report]) -> None:
        """Queue reports; the window opens with the first one."""
        if reports and not self._pending:
            self._opened = self.clock()
        self._pending.extend(reports)

    def due_in(self) -> float | None:
        """Seconds until the open window closes (None when nothing waits)."""
        if self._opened is None:
            return None
        return max(0.0, self._opened + self.window_s - self.clock())

    def flush(self) -> int:
        """Run what waits through each site's engine (in arrival order); returns how many it checked."""
        pending, self._pending, self._opened = self._pending, [], None
        by_site: dict[str, list[Report]] = {}
        for report in pending:
            by_site.setdefault(report.site, []).append(report)
        arrived = self.clock()
        for site, reports in by_site.items():
            newest = max(report.t for report in reports)
            if newest > self._newest.get(site, (-math.inf, 0.0))[0]:
                self._newest[site] = (newest, arrived)
            events = self.engine(site).ingest_many(reports)
            if events:
                self.on_events(events)
        return len(pending)

    def tick(self) -> int:
        """Advance every engine's clock; returns how many events (silent trackers) it raised."""
        raised = 0
        for site, (newest, arrived) in list(self._newest.items()):
            events = self.engine(site).tick(newest + self.clock() - arrived)
            if events:
                raised += len(events)
                self.on_events(events)
        return raised

    def drop(self, site: str) -> None:
        """Forget a site (handed to another process): its engine, its waiting reports."""
        self.engines.pop(site, None)
        self._newest.pop(site, None)
        self._pending = [report for report in self._pending if report.site != site]
