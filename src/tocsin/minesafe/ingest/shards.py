"""Sites shared out between ingestion processes behind one MQTT broker.

Each process is given its own sites (``own``) and, optionally, sites it stands in for (``standby``). It
holds a lease per site (core ``leases``, named ``minesafe.site:<name>``), renewed every ``every_s``
and lapsing after ``ttl_s``. While a site's lease is another live process's, this process takes none of
its traffic. When a process stops, its leases lapse and a standby takes the site over; when the owner
comes back, it asks for its site and the standby hands it over at its next renewal. A process that
cannot renew (its database away) stops taking a site once its lease has lapsed, since another may have
it by then."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import timedelta

from tocsin.core import leases
from tocsin.core.clock import Clock, utc_now
from tocsin.core.db import Database
from tocsin.minesafe.ingest.service import IngestService

log = logging.getLogger(__name__)
PREFIX = "minesafe.site:"


def default_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"[:120]


@dataclass
class Shards:
    """The sites this process takes now (``held``), kept by ``step``; ``on_change(gained, lost)`` is
    told when that changes."""

    database: Database
    own: tuple[str, ...]
    standby: tuple[str, ...] = ()
    name: str = field(default_factory=default_name)
    ttl_s: float = 10.0
    every_s: float = 2.0
    clock: Clock = utc_now
    on_change: Callable[[set[str], set[str]], None] = lambda gained, lost: None
    held: set[str] = field(default_factory=set)
    _renewed_at: float = -float("inf")  # monotonic time of the last successful step
    _started: float = field(default_factory=time.monotonic)
    following: asyncio.Task[None] | None = None  # the (un)subscription after the last change

    def step(self) -> None:
        """Take, keep, ask for or hand back each site, and apply the outcome."""
        now_held = self.settle()
        if now_held is not None:
            self._apply(now_held)

    def settle(self) -> set[str] | None:
        """The leases' part of a step (database only, safe off the event loop): the sites held now, or
        None to keep what is held (the database failed and the leases have not lapsed yet)."""
        try:
            now_held = self._settle()
        except Exception as error:
            log.warning("shards: could not renew the site leases: %s", error)
            return set() if time.monotonic() - self._renewed_at > self.ttl_s else None  # lapsed: not ours
        self._renewed_at = time.monotonic()
        return now_held

    def _settle(self) -> set[str]:
        now, ttl = self.clock(), timedelta(seconds=self.ttl_s)
        found = set()
        with self.database.session() as db:
            for site in self.own:
                if leases.hold(db, PREFIX + site, self.name, now=now, ttl=ttl):
                    found.add(site)
                else:
                    leases.ask(db, PREFIX + site, self.name)
            for site in self.standby:
                state = leases.holding(db, PREFIX + site, now=now)
                if state.wanted_by is not None and state.wanted_by != self.name:
                    leases.release(db, PREFIX + site, self.name)  # its owner is back
                elif self._may_stand_in(state) and leases.hold(
                    db, PREFIX + site, self.name, now=now, ttl=ttl
                ):
                    found.add(site)
        return found

    def _may_stand_in(self, state: leases.Holding) -> bool:
        """A standby takes a site its owner held and let go (or lost), or one nobody has taken since
        this process started ``ttl_s`` ago (its owner never came up)."""
        return state.ever_held or time.monotonic() - self._started > self.ttl_s

    def _apply(self, now_held: set[str]) -> None:
        gained, lost = now_held - self.held, self.held - now_held
        self.held = now_held
        if gained or lost:
            log.info(
                "shards: %s now takes %s (gained %s, lost %s)", self.name, sorted(now_held), gained, lost
            )
            self.on_change(gained, lost)

    def release_all(self) -> None:
        """Hand every site back at once (a clean stop), so a standby need not wait for the lapse."""
        self._release_leases()
        self._apply(set())

    def _release_leases(self) -> None:
        with self.database.session() as db:
            for site in self.held:
                leases.release(db, PREFIX + site, self.name)

    async def run(self) -> None:
        """Step every ``every_s`` until cancelled, then hand the sites back. The database work runs in a
        thread; the outcome is applied on the event loop, where the engines live."""
        try:
            while True:
                now_held = await asyncio.to_thread(self.settle)
                if now_held is not None:
                    self._apply(now_held)
                await asyncio.sleep(self.every_s)
        finally:
            try:
                await asyncio.to_thread(self._release_leases)
                self._apply(set())
            except Exception as error:
                log.warning("shards: could not hand the sites back: %s", error)


def sites_of(names: Iterable[str]) -> tuple[str, ...]:
    """Site names from an option's comma-separated lists, without blanks or repeats, in order."""
    seen: dict[str, None] = {}
    for value in names:
        for name in value.split(","):
            if name.strip():
                seen[name.strip()] = None
    return tuple(seen)


def attach(shards: Shards, service: IngestService) -> None:
    """Make ``service`` take only the sites ``shards`` holds (none until the first step), dropping a
    site's engine when it goes to another process."""
    service.ingestion.taken = set()

    def changed(gained: set[str], lost: set[str]) -> None:
        service.ingestion.taken = set(shards.held)
        for site in lost:
            service.batcher.drop(site)
        with contextlib.suppress(RuntimeError):  # no running loop: a test stepping by hand
            loop = asyncio.get_running_loop()
            shards.following = loop.create_task(service.follow_sites(), name="follow-sites")

    shards.on_change = changed
