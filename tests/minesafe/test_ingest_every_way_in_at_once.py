"""``tocsin minesafe ingest``'s runner: a phone over OsmAnd (real HTTP), a mast over the Semtech UDP
forwarder (real datagrams) and a mast over MQTT (a Mosquitto of the test's own) feed one engine at once;
a truck heard by radio and a worker's phone closing on each other raise a run-over alarm."""

from __future__ import annotations

import socket

import httpx
import paho.mqtt.client as mqtt
import pytest
from sqlalchemy import func, select

from tests.minesafe.runner_thread import RunnerThread
from tests.minesafe.uplink_fixtures import START, UDP_MAST, push_data, truck_frame
from tests.mosquitto import Mosquitto
from tests.support import free_port, run_async, wait_until
from tocsin.minesafe.ingest import simulated
from tocsin.minesafe.ingest.pipeline import Ingestion, Phone
from tocsin.minesafe.ingest.recorder import Recorder
from tocsin.minesafe.ingest.runner import Listen, Running, build, run
from tocsin.minesafe.ingest.service import Broker
from tocsin.minesafe.model import Kind
from tocsin.minesafe.models import Alarm, Position, Tracker
from tocsin.minesafe.simulator import HeardPacket
from tocsin.minesafe.site import load_example_site

pytestmark = pytest.mark.slow
SITE = load_example_site()
MQTT_MAST = simulated.gateway_eui(SITE, 2)


class Ingest:
    """The runner on its own event loop in a thread."""

    def __init__(self, listen: Listen, recorder: Recorder | None = None) -> None:
        phones = {"worker-7": Phone("worker-7", SITE.name, Kind.PERSON)}
        ingestion = Ingestion({SITE.name: SITE}, simulated.gateways(SITE), phones=phones)
        self.events: list = []
        self.recorder = recorder

        def take(events: list) -> None:
            self.events.extend(events)
            if recorder is not None:
                recorder.add_events(events)

        on_reports = recorder.add_reports if recorder is not None else (lambda reports: None)
        if recorder is not None:
            recorder.link_of = ingestion.link_quality
        self.service = build(ingestion, on_events=take, on_reports=on_reports)
        self.running = Running(self.service)
        self.thread = RunnerThread(self.running, run(self.service, listen, self.running, recorder))

    def start(self) -> Ingest:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.thread.stop()


def test_a_phone_a_udp_mast_and_an_mqtt_mast_feed_one_engine_and_the_store(tmp_path, database):
    broker = Mosquitto(tmp_path).start()
    udp_port, osmand_port = free_port(), free_port()
    listen = Listen(Broker(port=broker.port), ("127.0.0.1", udp_port), ("127.0.0.1", osmand_port))
    ingest = Ingest(listen, Recorder(database, {SITE.name: SITE})).start()
    radio = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    radio.settimeout(5)
    bridge = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="bridge")
    try:
        wait_until(ingest.service.connected.is_set, what="the MQTT subscription", timeout=15)
        bridge.connect("127.0.0.1", broker.port)
        bridge.loop_start()
        # The worker stands on the haul road; the truck comes at 8 m/s, heard by one mast or the other.
        person_lat, person_lon = SITE.grid.to_wgs84(1300.0, 700.0)
        for step in range(10):
            at = START + step
            frame = truck_frame(1200.0 + 8 * step, 700.0, seq=step)
            if step % 2:
                radio.sendto(push_data(frame, at), ("127.0.0.1", udp_port))
                assert radio.recv(64)[3] == 0x01  # PUSH_ACK
            else:
                heard = HeardPacket(t=step, mast=2, payload=frame)
                uplink = simulated.message(heard, SITE, start=START, region="ru864", json=True)
                bridge.publish(*uplink, qos=0).wait_for_publish(timeout=10)
            query = {"id": "worker-7", "timestamp": str(int(at)), "lat": str(person_lat)}
            query |= {"lon": str(person_lon), "speed": "0", "batt": "80"}
            assert httpx.post(f"http://127.0.0.1:{osmand_port}/", params=query).status_code == 200
            wait_until(
                lambda n=step: ingest.service.ingestion.counts["reports"] >= 2 * (n + 1),
                what=f"step {step}'s reports",
                timeout=10,
            )
        wait_until(
            lambda: any(e.type == "run_over" for e in ingest.events), what="the run-over alarm", timeout=5
        )
        refused = httpx.post(f"http://127.0.0.1:{osmand_port}/", params={"id": "stranger", "timestamp": "1"})
        assert refused.status_code == 400
    finally:
        bridge.loop_stop()
        radio.close()
        ingest.stop()
        broker.stop()
    alarm = next(e for e in ingest.events if e.type == "run_over")
    assert set(alarm.ids) == {"quarry:0", "phone:worker-7"}
    assert ingest.running.udp is not None and ingest.running.udp.counts["uplinks"] == 5
    assert ingest.service.counts["mqtt_messages"] == 5
    assert set(ingest.service.masts) == {UDP_MAST, MQTT_MAST}
    with database.session() as db:  # stopping wrote what was left
        assert db.scalar(select(func.count()).select_from(Position)) == 20
        stored = db.scalars(select(Alarm).where(Alarm.type == "run_over")).one()
        truck, phone = db.get(Tracker, "quarry:0"), db.get(Tracker, "phone:worker-7")
    assert stored.trackers == ["phone:worker-7", "quarry:0"] and stored.state == "raised"
    assert (truck.link_rssi, truck.link_snr, truck.link_masts) == (-80.0, 7.0, 1)  # last heard over UDP
    assert phone.link_masts is None  # a phone is not on the air


def test_a_taken_port_stops_the_runner_saying_so():
    taken = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    taken.bind(("127.0.0.1", 0))
    try:
        listen = Listen(None, ("127.0.0.1", taken.getsockname()[1]), None)
        ingestion = Ingestion({SITE.name: SITE}, simulated.gateways(SITE))
        with pytest.raises(OSError):
            run_async(run(build(ingestion, on_events=lambda events: None), listen))
    finally:
        taken.close()


def test_uplinks_from_the_udp_mast_are_acknowledged_even_when_garbage():
    udp_port = free_port()
    ingest = Ingest(Listen(None, ("127.0.0.1", udp_port), None)).start()
    radio = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    radio.settimeout(5)
    try:
        radio.sendto(b"\x02\x00\x01\x00" + bytes.fromhex(UDP_MAST) + b"{not json", ("127.0.0.1", udp_port))
        radio.sendto(push_data(truck_frame(100.0, 100.0, 1), START), ("127.0.0.1", udp_port))
        assert radio.recv(64)[3] == 0x01
        wait_until(lambda: ingest.service.ingestion.counts["reports"] == 1, what="the good frame", timeout=10)
    finally:
        radio.close()
        ingest.stop()
    assert (
        ingest.running.udp is not None
        and sum(n for key, n in ingest.running.udp.counts.items() if key.startswith("refused:")) == 1
    )
