"""Keeping the engines' zones: every few seconds the ingestion reads each site's drawn zones active now
(``ms_zone``: not removed, inside their window) in one short read off the event loop, adds the site
file's, and hands them to the site's engine when they changed (``Engine.set_zones``), on the event loop
where the engines are called. A blast window opening or closing is a change like any other; an engine
made anew (a site taken over from another process) gets the zones again."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime

from tocsin.core.clock import utc_now
from tocsin.core.db import Database
from tocsin.minesafe import zones as drawn
from tocsin.minesafe.engine import Engine
from tocsin.minesafe.ingest.service import IngestService
from tocsin.minesafe.model import Zone
from tocsin.minesafe.replay import site_setup

log = logging.getLogger(__name__)


class ZoneKeeper:
    """Remembers, per site, the engine it last set and the zones it set there, so an interval with no
    change costs one read; a read that fails (the database away) leaves the engines as they are."""

    def __init__(
        self, service: IngestService, database: Database, *, clock: Callable[[], datetime] = utc_now
    ) -> None:
        self.service, self.database, self.clock = service, database, clock
        self.applied: dict[str, tuple[Engine, tuple[Zone, ...]]] = {}
        self.changes = 0  # how many times an engine's zones were replaced
        self.failures = 0

    def wanted(self) -> dict[str, tuple[Zone, ...]]:
        """Each site's zones now: the site file's, then the drawn ones active now (by name)."""
        now = self.clock()
        sites = self.service.ingestion.sites
        with self.database.session() as db:
            return {
                name: site_setup(site).zones
                + tuple(drawn.to_zone(row) for row in drawn.active_zones(db=db, site=name, now=now))
                for name, site in sites.items()
            }

    async def sync(self) -> int:
        """Read the zones and set them where they changed; returns how many engines were changed."""
        try:
            wanted = await asyncio.to_thread(self.wanted)
        except Exception as error:  # the database away for a moment: try again next interval
            self.failures += 1
            log.warning("could not read the drawn zones: %s", error)
            return 0
        changed = 0
        taken = self.service.ingestion.taken
        for site, zones in wanted.items():
            if taken is not None and site not in taken:
                continue
            engine = self.service.batcher.engine(site)
            last = self.applied.get(site)
            if last is not None and last[0] is engine and last[1] == zones:
                continue
            events = engine.set_zones(zones)
            self.applied[site] = (engine, zones)
            changed += 1
            if events:
                self.service.batcher.on_events(events)
        self.changes += changed
        return changed


async def keep_zones(
    service: IngestService,
    database: Database,
    every_s: float = 5.0,
    *,
    keeper: ZoneKeeper | None = None,
) -> None:
    """Apply the zones every ``every_s`` seconds (the first time at once) until cancelled (``keeper``:
    to watch what it did, and to give it a clock)."""
    keeper = keeper or ZoneKeeper(service, database)
    while True:
        await keeper.sync()
        await asyncio.sleep(every_s)
