"""The ingestion service: the gateway bridge's MQTT messages (and, through ``accept_uplink``, any other
transport's uplinks) into the pipeline and the engine, with the masts' health on the side.

One asyncio task per transport; the engine is called from the event loop only, once per batching window,
so it needs no lock. A broker that goes away is reconnected to every ``reconnect_s`` seconds; messages
the bridge sent meanwhile are lost (the bridge publishes uplinks at QoS 0), copies that arrive twice
are merged by the pipeline and the engine drops a fix older than the one it has."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import aiomqtt

from tocsin.minesafe.ingest import chirpstack
from tocsin.minesafe.ingest.pipeline import Batcher, Ingestion
from tocsin.minesafe.ingest.uplinks import IngestError, MastState, MastStats, Uplink
from tocsin.minesafe.model import Report

log = logging.getLogger(__name__)


@dataclass
class MastHealth:
    """What dispatch shows of a mast: online, last stats, last frame heard and its link quality."""

    online: bool | None = None
    stats: MastStats | None = None
    last_heard: float | None = None
    last_rssi: float | None = None
    last_snr: float | None = None


@dataclass
class Broker:
    """Where the gateway bridge publishes: host, port, region prefix ("" for none)."""

    host: str = "127.0.0.1"
    port: int = 1883
    region: str = "ru864"
    client_id: str = "tocsin-ingest"


@dataclass
class IngestService:
    """Uplinks → reports → engine; ``on_reports`` sees every report taken (for storage and live pages)."""

    ingestion: Ingestion
    batcher: Batcher
    on_reports: Callable[[list[Report]], None] = lambda reports: None
    clock: Callable[[], float] = time.time
    reconnect_s: float = 0.5
    counts: Counter[str] = field(default_factory=Counter)
    masts: dict[str, MastHealth] = field(default_factory=dict)
    connected: asyncio.Event = field(default_factory=asyncio.Event)
    mqtt_client: aiomqtt.Client | None = None  # while connected: downlinks are published through it
    region: str = "ru864"  # the bridges' topic prefix (set by ``run_mqtt``)
    _topics: set[str] = field(default_factory=set)  # what the connected client subscribes to
    json_of: dict[str, bool] = field(default_factory=dict)  # each gateway's marshaler, as last seen

    def accept_mqtt(self, topic: str, payload: bytes) -> None:
        """One message of the bridge; a bad one is counted under ``refused:<field>`` and dropped."""
        self.counts["mqtt_messages"] += 1
        try:
            if not self.ingestion.takes(chirpstack.parse_topic(topic).gateway):
                self.counts["not_mine"] += 1  # another process's site: not even decoded
                return
            decoded = chirpstack.decode(topic, payload, now=self.clock())
        except IngestError as error:
            self.counts[f"refused:{error.field}"] += 1
            return
        if decoded is not None:
            self.json_of[decoded.gateway] = payload[:1] == b"{"
        if isinstance(decoded, Uplink):
            self.accept_uplink(decoded)
        elif isinstance(decoded, MastStats):
            self.accept_stats(decoded)
        elif isinstance(decoded, MastState):
            self._mast(decoded.gateway).online = decoded.online

    def accept_uplink(self, uplink: Uplink) -> None:
        """One frame as one mast heard it (any transport)."""
        health = self._mast(uplink.gateway)
        health.last_heard, health.last_rssi, health.last_snr = uplink.received, uplink.rssi, uplink.snr
        self.accept_reports(self.ingestion.reports(uplink))

    def accept_stats(self, stats: MastStats) -> None:
        """A mast's periodic status (any transport)."""
        self._mast(stats.gateway).stats = stats

    def accept_reports(self, reports: list[Report]) -> None:
        """Reports for the engine's next window, and for whoever stores and shows them."""
        if reports:
            self.batcher.add(reports)
            self.on_reports(reports)

    def _mast(self, gateway: str) -> MastHealth:
        return self.masts.setdefault(gateway, MastHealth())

    async def run_batches(self, tick_s: float = 1.0) -> None:
        """Close each batching window on time, and advance the engines' clocks every ``tick_s`` so
        silent trackers are noticed (the engines are called here and nowhere else)."""
        ticked = time.monotonic()
        while True:
            due = self.batcher.due_in()
            await asyncio.sleep(self.batcher.window_s if due is None else due)
            if self.batcher.due_in() == 0.0:
                self.batcher.flush()
            if time.monotonic() - ticked >= tick_s:
                ticked = time.monotonic()
                self.batcher.tick()

    def wanted_topics(self) -> set[str]:
        """Every gateway's topics; when this process takes only some sites, only their masts' (so the
        broker does not send it the other processes' traffic)."""
        taken = self.ingestion.taken
        if taken is None:
            return set(chirpstack.subscriptions(self.region))
        gateways = [eui for eui, site in self.ingestion.gateways.items() if site in taken]
        return set(chirpstack.subscriptions(self.region, gateways)) if gateways else set()

    async def follow_sites(self) -> None:
        """Subscribe and unsubscribe as the sites this process takes change (no-op while disconnected:
        a reconnection subscribes afresh)."""
        if self.mqtt_client is not None:
            await self._subscribe(self.mqtt_client)

    async def _subscribe(self, client: aiomqtt.Client) -> None:
        wanted = self.wanted_topics()
        gone, new = sorted(self._topics - wanted), sorted(wanted - self._topics)
        if gone:
            await client.unsubscribe(gone)
        for topic in new:
            await client.subscribe(topic, qos=0)
        self._topics = wanted

    async def run_mqtt(self, broker: Broker) -> None:
        """Subscribe to the bridge's topics and take every message, reconnecting when the broker goes."""
        while True:
            try:
                async with aiomqtt.Client(broker.host, broker.port, identifier=broker.client_id) as client:
                    self.region, self._topics = broker.region, set()
                    await self._subscribe(client)
                    self.connected.set()
                    self.mqtt_client = client
                    async for message in client.messages:
                        self.accept_mqtt(str(message.topic), bytes(message.payload))
            except aiomqtt.MqttError as error:
                self.mqtt_client = None
                if self.connected.is_set():
                    self.counts["mqtt_reconnects"] += 1
                    log.warning("MQTT broker %s:%s lost: %s", broker.host, broker.port, error)
                self.connected.clear()
                await asyncio.sleep(self.reconnect_s)
            finally:
                self.mqtt_client = None
