"""Keeping the masts' health: what the ingestion process knows of each mast (``IngestService.masts``) is
written to ``ms_mast`` every few seconds, only the masts whose health changed, in one short transaction
off the event loop, and the dispatch pages are told (live topic ``minesafe``) so they redraw the masts.

A mast is *silent* when nothing was heard from it for ``SILENT_AFTER``: the pages compute that from
``last_heard`` when they draw, so a mast that stops talking turns silent even if ingestion stopped too."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from tocsin.core import live
from tocsin.core.clock import utc_now
from tocsin.core.db import Database
from tocsin.minesafe import store
from tocsin.minesafe.ingest.service import IngestService, MastHealth
from tocsin.minesafe.models import Mast

log = logging.getLogger(__name__)
SILENT_AFTER = timedelta(seconds=60)  # a mast not heard this long is shown as a problem

Snapshot = tuple[str, bool | None, datetime | None, float | None, float | None, int | None, int | None]


def snapshot(gateway: str, health: MastHealth, site: str) -> Snapshot:
    """The stored columns of one mast's health (compared to tell what changed); ``last_heard`` is the
    mast's last sign of life, a frame it heard or its periodic status, whichever came later."""
    stats = health.stats
    contacts = [t for t in (health.last_heard, None if stats is None else stats.at) if t is not None]
    heard = datetime.fromtimestamp(max(contacts), UTC) if contacts else None
    received = None if stats is None else stats.received
    received_ok = None if stats is None else stats.received_ok
    return (site, health.online, heard, health.last_rssi, health.last_snr, received, received_ok)


class MastKeeper:
    """Remembers what was written last, so each interval writes only the masts that changed; what could
    not be written (the database away) stays unwritten and is tried again the next interval."""

    def __init__(
        self, service: IngestService, database: Database, *, clock: Callable[[], datetime] = utc_now
    ) -> None:
        self.service, self.database, self.clock = service, database, clock
        self.written: dict[str, Snapshot] = {}
        self.writes = 0  # masts written so far
        self.failures = 0

    def changed(self) -> dict[str, Snapshot]:
        """The masts whose health differs from what was written last."""
        sites = self.service.ingestion.gateways
        now = {
            gateway: snapshot(gateway, health, sites.get(gateway, ""))
            for gateway, health in self.service.masts.items()
        }
        return {gateway: shot for gateway, shot in now.items() if self.written.get(gateway) != shot}

    async def flush(self) -> int:
        """Write the masts that changed; returns how many (0 when nothing changed or the write failed)."""
        changed = self.changed()
        if not changed:
            return 0
        try:
            await asyncio.to_thread(self._write, changed)
        except Exception as error:  # the database away for a moment: try again next interval
            self.failures += 1
            log.warning("could not store the health of %d masts: %s", len(changed), error)
            return 0
        self.written.update(changed)
        self.writes += len(changed)
        return len(changed)

    def _write(self, changed: dict[str, Snapshot]) -> None:
        now = self.clock()
        with self.database.session() as db:
            for gateway, shot in changed.items():
                row = db.get(Mast, gateway)
                if row is None:
                    row = Mast(gateway=gateway)
                    db.add(row)
                (row.site, row.online, row.last_heard, row.last_rssi, row.last_snr) = shot[:5]
                row.rx_received, row.rx_ok, row.updated_at = shot[5], shot[6], now
            db.flush()
            live.publish(db, topic=store.TOPIC, data={"masts": len(changed)}, now=now)


async def keep_masts(
    service: IngestService,
    database: Database,
    every_s: float = 2.0,
    *,
    keeper: MastKeeper | None = None,
) -> None:
    """Write the masts whose health changed every ``every_s`` seconds until cancelled (``keeper``: to
    watch what it did, and to give it a clock)."""
    keeper = keeper or MastKeeper(service, database)
    while True:
        await asyncio.sleep(every_s)
        await keeper.flush()
