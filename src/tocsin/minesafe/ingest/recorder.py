"""Keeping what ingestion takes: positions and the engine's events go to the database in the background,
one transaction per interval, so the event loop that feeds the engine never waits for storage."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable, Mapping

from tocsin.core import live
from tocsin.core.clock import Clock, utc_now
from tocsin.core.db import Database
from tocsin.minesafe import store
from tocsin.minesafe.ingest import downlinks
from tocsin.minesafe.ingest.downlinks import Downlink
from tocsin.minesafe.model import AlarmEvent, Report
from tocsin.minesafe.site import Site
from tocsin.minesafe.store import LinkQuality

log = logging.getLogger(__name__)
MOVED_EVERY_S = 1.0


class Recorder:
    """Collects reports and events on the event loop; ``run`` writes them every ``every_s`` seconds, in
    order, from one worker thread (alarms after the positions of the same interval)."""

    def __init__(
        self,
        database: Database,
        sites: Mapping[str, Site],
        *,
        clock: Clock = utc_now,
        plan: Callable[[list[AlarmEvent]], list[Downlink]] | None = None,
        queued: threading.Event | None = None,
        link_of: Callable[[str], LinkQuality | None] | None = None,
    ) -> None:
        """``plan``: the buzzer commands a batch of events calls for (queued with its alarms);
        ``queued``: set once commands are stored (it wakes the radio worker); ``link_of``: how the masts
        hear a tracker now (asked on the event loop when an interval's reports are written)."""
        self.database, self.sites, self.clock = database, dict(sites), clock
        self.plan, self.queued, self.link_of = plan, queued, link_of
        self._reports: list[Report] = []
        self._events: list[AlarmEvent] = []
        self._downlinks: list[Downlink] = []
        self.written = 0  # reports written so far
        self.failures = 0
        self._told_at: float | None = None  # when the pages were last told trackers moved
        self._urgent: asyncio.Event | None = None  # set by an alarm event while ``run`` runs
        self.confirmed: set[str] = set()  # alarm keys the engines raised since this process started
        self.started_at = clock()

    def add_reports(self, reports: list[Report]) -> None:
        self._reports.extend(reports)

    def add_events(self, events: list[AlarmEvent]) -> None:
        self._events.extend(events)
        self.confirmed.update(store.alarm_key(event) for event in events if event.state == "raised")
        if self._urgent is not None and any(event.state in ("raised", "cleared") for event in events):
            self._urgent.set()
        if self.plan is not None:
            self._downlinks.extend(self.plan(events))

    async def run(self, every_s: float = 0.2) -> None:
        """Write what waits, every interval, until cancelled (what waits is written once more then);
        an alarm event does not wait for the interval: it is written at once (with the positions that
        came before it), so dispatch screens and the SMS see it a fraction of a second sooner."""
        self._urgent = asyncio.Event()
        try:
            while True:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._urgent.wait(), every_s)
                self._urgent.clear()
                await self.flush()
        finally:
            await self.flush()

    async def close_unconfirmed(
        self, after_s: float = 30.0, sites: Callable[[], list[str]] | None = None
    ) -> int:
        """``after_s`` after the start, clear the open alarms raised before it that the engines have not
        raised again (``store.close_unconfirmed``): a restart must not leave alarms open for ever."""
        await asyncio.sleep(after_s)
        await self.flush()
        held = sites() if sites is not None else list(self.sites)
        return await asyncio.to_thread(self._close_unconfirmed, held, set(self.confirmed))

    def _close_unconfirmed(self, sites: list[str], confirmed: set[str]) -> int:
        with self.database.session() as db:
            return store.close_unconfirmed(
                db, sites=sites, confirmed=confirmed, before=self.started_at, now=self.clock()
            )

    async def flush(self) -> None:
        reports, events, commands = self._reports, self._events, self._downlinks
        if not reports and not events:
            return
        self._reports, self._events, self._downlinks = [], [], []
        links = self._links(reports)
        try:
            await asyncio.to_thread(self._write, reports, events, commands, links)
        except Exception as error:  # the database away for a moment: keep them for the next interval
            self.failures += 1
            log.warning("could not store %d reports and %d events: %s", len(reports), len(events), error)
            self._reports[:0], self._events[:0], self._downlinks[:0] = reports, events, commands
            return
        if commands and self.queued is not None:
            self.queued.set()

    def _links(self, reports: list[Report]) -> dict[str, LinkQuality]:
        if self.link_of is None:
            return {}
        found = {tracker: self.link_of(tracker) for tracker in {report.tracker for report in reports}}
        return {tracker: link for tracker, link in found.items() if link is not None}

    def _write(
        self,
        reports: list[Report],
        events: list[AlarmEvent],
        commands: list[Downlink],
        links: dict[str, LinkQuality] | None = None,
    ) -> None:
        by_site: dict[str, list[AlarmEvent]] = {}
        for event in events:
            by_site.setdefault(self._site_of(event), []).append(event)
        now = self.clock()
        with self.database.session() as db:
            store.save_reports(db, reports, self.sites, links)
            for site, site_events in by_site.items():
                store.save_events(db, site_events, site=site, now=now)
            downlinks.queue(db, commands, now=now)
            if reports and self._may_tell(now.timestamp()):
                live.publish(db, topic=store.TOPIC, data={"moved": len(reports)}, now=now)
        self.written += len(reports)

    def _may_tell(self, now: float) -> bool:
        """At most one "trackers moved" a second: the pages redraw from the stored state anyway."""
        if self._told_at is not None and now - self._told_at < MOVED_EVERY_S:
            return False
        self._told_at = now
        return True

    def _site_of(self, event: AlarmEvent) -> str:
        """An event's site: its first tracker's ("quarry:7", phones carry theirs in the registry)."""
        first = event.ids[0] if event.ids else ""
        site = first.split(":", 1)[0]
        return site if site in self.sites else next(iter(self.sites))
