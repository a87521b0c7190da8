"""Simulator → MQTT (a real Mosquitto of the test's own) in the ChirpStack v4 encodings → ingestion →
engine: the alarms are exactly those of the same frames fed to the engine directly; after a broker
restart during traffic the service reconnects by itself and no position is taken twice."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator

import paho.mqtt.client as mqtt
import pytest

from tests.mosquitto import Mosquitto
from tests.support import wait_until
from tocsin.minesafe.engine import Engine
from tocsin.minesafe.ingest import chirpstack, simulated
from tocsin.minesafe.ingest.pipeline import Batcher, Ingestion
from tocsin.minesafe.ingest.service import Broker, IngestService
from tocsin.minesafe.model import AlarmEvent, Report
from tocsin.minesafe.simulator import SimConfig, simulate
from tocsin.minesafe.site import load_example_site

pytestmark = pytest.mark.slow
SITE = load_example_site()
START = 1_796_000_000.0  # when the simulated shift began (Unix seconds)
REGION = "ru864"


def published(seconds: float) -> list[list[tuple[str, bytes]]]:
    """Per simulated second, what the masts' bridges publish (JSON and protobuf, alternately)."""
    return [
        simulated.messages(tick, SITE, start=START, region=REGION, json=n % 2 == 0)
        for n, tick in enumerate(simulate(SITE, SimConfig(), seconds))
    ]


def direct(ticks: list[list[tuple[str, bytes]]]) -> tuple[list[AlarmEvent], int]:
    """The same messages straight into the pipeline and the engine: what MQTT must not change."""
    ingestion, engine, events = Ingestion({SITE.name: SITE}, simulated.gateways(SITE)), Engine(), []
    for messages in ticks:
        reports = [r for t, p in messages for r in ingestion.reports(chirpstack.decode(t, p, now=START))]
        events += engine.ingest_many(reports)
    return events, ingestion.counts["reports"]


class Running:
    """The ingestion service on its own event loop in a thread, as ``tocsin minesafe ingest`` runs it."""

    def __init__(self, port: int) -> None:
        self.events: list[AlarmEvent] = []
        self.reports: list[Report] = []
        batcher = Batcher(lambda site: Engine(), self.events.extend, window_s=0.04)
        ingestion = Ingestion({SITE.name: SITE}, simulated.gateways(SITE))
        self.loop = asyncio.new_event_loop()
        self.service = IngestService(ingestion, batcher, on_reports=self.reports.extend, reconnect_s=0.2)
        self.broker = Broker(port=port, region=REGION, client_id="tocsin-test-ingest")
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.tasks = [
            self.loop.create_task(self.service.run_mqtt(self.broker)),
            self.loop.create_task(self.service.run_batches()),
        ]
        self.loop.run_forever()

    def connected(self) -> bool:
        return self.service.connected.is_set()

    def stop(self) -> None:
        """Cancel the service's tasks, let them end, then stop and close the loop."""
        stopped = asyncio.run_coroutine_threadsafe(self._cancel(), self.loop)
        stopped.result(timeout=10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)
        self.loop.close()

    async def _cancel(self) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)


@pytest.fixture
def broker(tmp_path) -> Iterator[Mosquitto]:
    broker = Mosquitto(tmp_path).start()
    yield broker
    broker.stop()


def publisher(port: int) -> mqtt.Client:
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="simulated-bridges")
    client.connect("127.0.0.1", port)
    client.loop_start()
    return client


def publish(client: mqtt.Client, ticks: list[list[tuple[str, bytes]]]) -> None:
    for messages in ticks:
        for topic, payload in messages:
            client.publish(topic, payload, qos=0).wait_for_publish(timeout=10)


def test_alarms_through_mqtt_are_those_of_the_frames_fed_directly(broker):
    ticks = published(90)
    expected, reports = direct(ticks)
    assert any(e.type == "collision" for e in expected)  # the scenario has alarms to compare
    running = Running(broker.port)
    running.thread.start()
    try:
        wait_until(running.connected, what="the ingestion service to subscribe", timeout=15)
        client = publisher(broker.port)
        publish(client, ticks)
        wait_until(lambda: len(running.reports) >= reports, what=f"{reports} reports to be taken", timeout=30)
        time.sleep(0.1)  # the last window closes (40 ms)
        client.loop_stop()
        client.disconnect()
    finally:
        running.stop()
    assert len(running.reports) == reports
    assert len(running.events) == len(expected)
    assert [(e.t, e.type, e.ids, e.state) for e in running.events] == [
        (e.t, e.type, e.ids, e.state) for e in expected
    ]
    assert running.service.ingestion.counts["copies"] > 0  # masts heard the same frames
    masts = running.service.masts
    assert set(masts) == set(simulated.gateways(SITE)) and all(m.last_rssi == -92 for m in masts.values())


def test_a_broker_restart_during_traffic_is_survived_without_a_position_twice(broker):
    ticks = published(40)
    running = Running(broker.port)
    running.thread.start()
    try:
        wait_until(running.connected, what="the ingestion service to subscribe", timeout=15)
        client = publisher(broker.port)
        publish(client, ticks[:20])
        wait_until(
            lambda: any(r.t >= START + 19 for r in running.reports), what="the first 20 s taken", timeout=15
        )
        client.loop_stop()
        client.disconnect()
        broker.stop()
        wait_until(lambda: not running.connected(), what="the service to notice the broker left", timeout=15)
        broker.start()
        wait_until(running.connected, what="the service to reconnect by itself", timeout=20)
        client = publisher(broker.port)
        publish(client, ticks[10:])  # the bridge re-sends part of what it sent before: copies
        wait_until(
            lambda: any(r.t >= START + 39 for r in running.reports), what="the last reports", timeout=30
        )
        client.loop_stop()
        client.disconnect()
    finally:
        running.stop()
    assert running.service.counts["mqtt_reconnects"] >= 1
    taken = [(r.tracker, r.t) for r in running.reports]
    assert len(taken) == len(set(taken)), "a position was taken twice"
    assert running.service.ingestion.counts["replayed"] > 0  # the re-sent part was seen and left out
