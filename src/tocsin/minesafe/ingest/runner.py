"""``tocsin minesafe ingest``: every way in at once, on one event loop, into one engine per process —
the gateway bridge over MQTT, the Semtech UDP packet forwarder on UDP 1700, phones (OsmAnd) on 5055."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import aiomqtt
import uvicorn

from tocsin.core.db import Database
from tocsin.minesafe.engine import Engine
from tocsin.minesafe.ingest import simulated
from tocsin.minesafe.ingest.osmand import PhoneFix, osmand_app
from tocsin.minesafe.ingest.pipeline import Batcher, Ingestion
from tocsin.minesafe.ingest.recorder import Recorder
from tocsin.minesafe.ingest.semtech import ForwarderProtocol, serve_udp
from tocsin.minesafe.ingest.service import Broker, IngestService
from tocsin.minesafe.model import AlarmEvent, Report
from tocsin.minesafe.simulator import SimConfig, simulate
from tocsin.minesafe.site import Site

if TYPE_CHECKING:
    from tocsin.minesafe.scada import Scada

SIMULATED_SECONDS = 3600.0
REGION = "ru864"


@dataclass
class Listen:
    """Where each transport listens (None: not run)."""

    broker: Broker | None = field(default_factory=Broker)
    udp: tuple[str, int] | None = ("0.0.0.0", 1700)
    osmand: tuple[str, int] | None = ("0.0.0.0", 5055)
    opcua: tuple[str, int] | None = None  # the SCADA's OPC UA server (``scada.py``); needs a database


@dataclass
class Running:
    """What a running ingestion exposes: the service (counts, masts), the UDP protocol, the OsmAnd app."""

    service: IngestService
    udp: ForwarderProtocol | None = None
    osmand_counts: object = None
    scada: Scada | None = None
    ready: asyncio.Event = field(default_factory=asyncio.Event)


def build(
    ingestion: Ingestion,
    *,
    on_events: Callable[[list[AlarmEvent]], None],
    on_reports: Callable[[list[Report]], None] = lambda reports: None,
    window_s: float = 0.04,
    new_engine: Callable[[str], Engine] | None = None,
) -> IngestService:
    """The service for ``ingestion``'s sites, one engine per site (by default with the site's zones,
    speed limits and trackers) fed in windows of ``window_s``."""
    batcher = Batcher(new_engine or ingestion.engine_for, on_events, window_s=window_s)
    return IngestService(ingestion, batcher, on_reports=on_reports)


async def run(
    service: IngestService,
    listen: Listen,
    running: Running | None = None,
    recorder: Recorder | None = None,
    also: list[Callable[[], Any]] | None = None,
    database: Database | None = None,
) -> None:
    """Run every transport of ``listen`` until cancelled; ``running.ready`` is set once all listen;
    ``recorder``, if any, stores what is taken; ``also``: more coroutines to run alongside (the demo's
    simulated masts); the OPC UA server shows ``database`` (by default the recorder's)."""
    running = running or Running(service)
    tasks = [asyncio.create_task(service.run_batches(), name="batches")]
    if recorder is not None:
        tasks.append(asyncio.create_task(recorder.run(), name="recorder"))
    tasks += [asyncio.create_task(make()) for make in also or []]
    udp_transport = None
    try:
        if listen.broker is not None:
            tasks.append(asyncio.create_task(service.run_mqtt(listen.broker), name="mqtt"))
        if listen.udp is not None:
            running.udp = ForwarderProtocol(service.accept_uplink, service.accept_stats)
            udp_transport = await serve_udp(running.udp, *listen.udp)
        if listen.osmand is not None:
            tasks.append(await _start_osmand(service, listen.osmand, running))
        if listen.opcua is not None:
            running.scada = await _start_scada(service, listen.opcua, database or _database_of(recorder))
            tasks.append(asyncio.create_task(running.scada.run(), name="opcua"))
        running.ready.set()
        await asyncio.gather(*tasks)
    finally:
        for task in tasks:
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.gather(*tasks, return_exceptions=True)
        if udp_transport is not None:
            udp_transport.close()
        if running.scada is not None:
            await running.scada.stop()


async def _start_scada(service: IngestService, where: tuple[str, int], database: Database) -> Scada:
    from tocsin.minesafe.scada import Scada  # asyncua takes a while to import: only when asked for

    host, port = where
    scada = Scada(database, host=host, port=port, masts=service.masts, sites=list(service.ingestion.sites))
    await scada.start()
    return scada


def _database_of(recorder: Recorder | None) -> Database:
    if recorder is None:
        raise ValueError("the OPC UA server shows the stored state: give a database or a recorder")
    return recorder.database


async def _start_osmand(service: IngestService, where: tuple[str, int], running: Running) -> asyncio.Task:
    def take(fixes: list[PhoneFix]) -> None:
        service.accept_reports(service.ingestion.phone_reports(fixes))

    app = osmand_app(take, lambda device: device in service.ingestion.phones)
    running.osmand_counts = app.state.counts
    host, port = where
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="off"))
    task = asyncio.create_task(server.serve(), name="osmand")
    while not server.started:
        if task.done():
            task.result()  # raises why it could not start (the port is taken…)
        await asyncio.sleep(0.01)
    return task


async def feed_simulation(
    service: IngestService,
    site: Site,
    *,
    broker: Broker | None,
    seed: int = 0,
    speed: float = 1.0,
    rounds: int | None = None,
    seconds: float = SIMULATED_SECONDS,
) -> None:
    """The quarry simulator as live masts, for the demo: each simulated second is published as the masts'
    bridges would (through ``broker`` when given, else handed to the service in process), paced at
    ``speed`` simulated seconds per second, dated now; the scenario (``seconds`` long, an hour by
    default) starts over ``rounds`` times (None: until cancelled)."""
    client = (
        aiomqtt.Client(broker.host, broker.port, identifier="tocsin-simulated-bridges") if broker else None
    )
    async with contextlib.AsyncExitStack() as stack:
        publisher = await stack.enter_async_context(client) if client is not None else None
        done = 0
        while rounds is None or done < rounds:
            start = time.time()
            for tick in simulate(site, SimConfig(seed=seed + done), seconds):
                await asyncio.sleep(max(0.0, start + tick.t / speed - time.time()))
                for topic, payload in simulated.messages(tick, site, start=start, region=REGION, json=True):
                    if publisher is not None:
                        await publisher.publish(topic, payload)
                    else:
                        service.accept_mqtt(topic, payload)
            done += 1


def broker_answers(broker: Broker, timeout: float = 0.5) -> bool:
    """Whether something listens at the broker's address (the demo then goes through it)."""
    try:
        socket.create_connection((broker.host, broker.port), timeout=timeout).close()
    except OSError:
        return False
    return True
