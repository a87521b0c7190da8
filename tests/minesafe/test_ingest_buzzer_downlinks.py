"""Buzzer commands back to trackers: a truck heard by radio bears down on a worker carrying a phone; the
truck's tracker cannot hear a phone, so the base station's run-over alarm queues a buzzer command for it
in the outbox, with the alarm, and the ingestion's own radio worker sends it through the mast that heard
the truck: a PULL_RESP to a Semtech UDP forwarder, or ``…/command/down`` to the ChirpStack bridge (on a
Mosquitto of the test's own). Every attempt is recorded; a command that cannot be sent in time is given
up with the reason."""

from __future__ import annotations

import asyncio
import base64
import json
import secrets
import socket
import threading
from datetime import UTC, datetime, timedelta

import httpx
import paho.mqtt.client as mqtt
import pytest
from chirpstack_api import gw
from google.protobuf import json_format
from sqlalchemy import select

from tests.minesafe.runner_thread import RunnerThread
from tests.minesafe.uplink_fixtures import START, UDP_MAST, push_data, truck_frame
from tests.mosquitto import Mosquitto
from tests.support import free_port, wait_until
from tocsin.core import outbox
from tocsin.core.outbox import DeliveryAttempt, OutboxMessage
from tocsin.minesafe.codec import BuzzerCommand, decode_buzzer, encode_buzzer
from tocsin.minesafe.ingest import downlinks, simulated
from tocsin.minesafe.ingest.pipeline import Ingestion, Phone
from tocsin.minesafe.ingest.recorder import Recorder
from tocsin.minesafe.ingest.runner import Listen, Running, build, run
from tocsin.minesafe.ingest.service import Broker
from tocsin.minesafe.model import AlarmEvent, Kind, Level
from tocsin.minesafe.simulator import HeardPacket
from tocsin.minesafe.site import load_example_site

SITE = load_example_site()
MQTT_MAST = simulated.gateway_eui(SITE, 2)


def event(*ids: str, type: str = "run_over", state: str = "raised") -> AlarmEvent:
    return AlarmEvent(t=START, type=type, level=Level.DANGER, ids=ids, state=state)


def test_only_trackers_that_could_not_hear_the_other_party_get_a_command():
    assert downlinks.unwarned(event("quarry:0", "phone:w7")) == ["quarry:0"]
    assert downlinks.unwarned(event("phone:w7", "quarry:3", type="collision")) == ["quarry:3"]
    assert downlinks.unwarned(event("quarry:0", "quarry:5")) == []  # both on the masts' relay
    assert downlinks.unwarned(event("quarry:0", "quarry:25")) == ["quarry:0"]  # 25 is not relayed
    assert downlinks.unwarned(event("quarry:0", "phone:w7", state="cleared")) == []
    assert downlinks.unwarned(event("quarry:0", type="sos")) == []
    assert downlinks.unwarned(event("phone:a", "phone:b")) == []


def test_the_buzzer_command_is_two_bytes_and_refuses_what_does_not_fit():
    assert encode_buzzer(BuzzerCommand(7, "WARNING", 15)) == bytes.fromhex("3c0f")
    assert decode_buzzer(bytes.fromhex("feff")) == BuzzerCommand(31, "DANGER", 255)
    for bad in (BuzzerCommand(32, "DANGER", 1), BuzzerCommand(1, "LOUD", 1), BuzzerCommand(1, "INFO", 256)):
        with pytest.raises(ValueError):
            encode_buzzer(bad)
    with pytest.raises(ValueError, match="spare bit"):
        decode_buzzer(bytes.fromhex("0100"))


class Ingest:
    """The runner with storage and its radio worker, on its own event loop in a thread."""

    def __init__(self, database, listen: Listen) -> None:
        phones = {"worker-7": Phone("worker-7", SITE.name, Kind.PERSON)}
        self.ingestion = Ingestion({SITE.name: SITE}, simulated.gateways(SITE), phones=phones)
        queued = threading.Event()
        plan = lambda events: downlinks.plan(events, self.ingestion)  # noqa: E731
        self.recorder = Recorder(database, {SITE.name: SITE}, plan=plan, queued=queued)
        self.service = build(
            self.ingestion, on_events=self.recorder.add_events, on_reports=self.recorder.add_reports
        )
        self.running = Running(self.service)
        radio = lambda: downlinks.serve(  # noqa: E731
            database,
            udp=lambda: self.running.udp,
            mqtt=lambda: self.service.mqtt_client,
            region="ru864",
            json_of=self.service.json_of,
            sites=lambda: [SITE.name],
            woken=queued,
        )
        self.thread = RunnerThread(
            self.running, run(self.service, listen, self.running, self.recorder, [radio])
        )

    def start(self) -> Ingest:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.thread.stop()


def approach(ingest: Ingest, osmand_port: int, send_truck) -> None:
    """The worker stands on the haul road; the truck comes at 8 m/s until the run-over alarm."""
    person_lat, person_lon = SITE.grid.to_wgs84(1300.0, 700.0)
    for step in range(12):
        at = START + step
        send_truck(truck_frame(1200.0 + 8 * step, 700.0, seq=step), at, step)
        query = {"id": "worker-7", "timestamp": str(int(at)), "lat": str(person_lat), "lon": str(person_lon)}
        assert (
            httpx.post(f"http://127.0.0.1:{osmand_port}/", params=query | {"speed": "0"}).status_code == 200
        )
        wait_until(
            lambda n=step: ingest.ingestion.counts["reports"] >= 2 * (n + 1), what=f"step {step}", timeout=10
        )


def buzzer_messages(database) -> list[OutboxMessage]:
    with database.session() as db:
        return list(db.scalars(select(OutboxMessage).where(OutboxMessage.channel == outbox.RADIO)))


@pytest.mark.slow
def test_a_udp_mast_gets_the_buzzer_command_as_a_pull_resp(database):
    udp_port, osmand_port = free_port(), free_port()
    ingest = Ingest(database, Listen(None, ("127.0.0.1", udp_port), ("127.0.0.1", osmand_port))).start()
    mast = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    mast.settimeout(0.2)
    downs: list[dict] = []

    def drain() -> None:
        try:
            while True:
                datagram = mast.recv(2048)
                if datagram[3] == 0x03:  # PULL_RESP
                    downs.append(json.loads(datagram[4:])["txpk"])
        except TimeoutError:
            pass

    try:
        pull = b"\x02" + secrets.token_bytes(2) + b"\x02" + bytes.fromhex(UDP_MAST)
        mast.sendto(pull, ("127.0.0.1", udp_port))
        wait_until(
            lambda: UDP_MAST in (ingest.running.udp.pull_addresses if ingest.running.udp else {}),
            what="the pull",
        )

        def by_udp(frame: bytes, at: float, step: int) -> None:
            mast.sendto(push_data(frame, at), ("127.0.0.1", udp_port))

        approach(ingest, osmand_port, by_udp)

        def sent() -> bool:
            drain()
            return bool(downs)

        wait_until(sent, what="a PULL_RESP with the buzzer command", timeout=15)
    finally:
        mast.close()
        ingest.stop()
    command = decode_buzzer(base64.b64decode(downs[0]["data"]))
    assert command.id == 0 and command.level in ("WARNING", "DANGER") and command.seconds == 15
    assert downs[0]["ipol"] is True and downs[0]["imme"] is True and downs[0]["freq"] == 868.9
    messages = buzzer_messages(database)
    assert messages and messages[0].status == "delivered" and messages[0].payload["gateway"] == UDP_MAST
    assert messages[0].partner == "radio:quarry" and messages[0].subject.startswith("run_over|")
    with database.session() as db:
        attempts = list(
            db.scalars(select(DeliveryAttempt).where(DeliveryAttempt.message_id == messages[0].id))
        )
    assert [a.outcome for a in attempts] == ["delivered"]


@pytest.mark.slow
def test_a_mast_behind_the_bridge_gets_the_command_on_its_command_down_topic(tmp_path, database):
    broker = Mosquitto(tmp_path).start()
    osmand_port = free_port()
    ingest = Ingest(database, Listen(Broker(port=broker.port), None, ("127.0.0.1", osmand_port))).start()
    bridge = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="bridge")
    received: list[bytes] = []
    bridge.on_message = lambda client, userdata, message: received.append(message.payload)
    try:
        wait_until(ingest.service.connected.is_set, what="the MQTT subscription", timeout=15)
        bridge.connect("127.0.0.1", broker.port)
        bridge.subscribe(f"ru864/gateway/{MQTT_MAST}/command/down", qos=1)
        bridge.loop_start()

        def by_mqtt(frame: bytes, at: float, step: int) -> None:
            heard = HeardPacket(t=step, mast=2, payload=frame)
            bridge.publish(
                *simulated.message(heard, SITE, start=START, region="ru864", json=True)
            ).wait_for_publish(timeout=10)

        approach(ingest, osmand_port, by_mqtt)
        wait_until(lambda: received, what="a DownlinkFrame on command/down", timeout=15)
    finally:
        bridge.loop_stop()
        ingest.stop()
        broker.stop()
    frame = json_format.Parse(received[0].decode(), gw.DownlinkFrame())
    assert frame.gateway_id == MQTT_MAST and frame.items[0].tx_info.timing.HasField("immediately")
    assert decode_buzzer(frame.items[0].phy_payload).id == 0
    assert buzzer_messages(database)[0].status == "delivered"


def stored_command(database, *, created: datetime) -> OutboxMessage:
    downlink = downlinks.Downlink(
        site="quarry",
        tracker="quarry:0",
        gateway=UDP_MAST,
        frame=encode_buzzer(BuzzerCommand(0, "DANGER", 15)),
        level="DANGER",
        alarm="run_over|phone:w|quarry:0",
        frequency_hz=868_900_000,
        spreading_factor=7,
    )
    with database.session() as db:
        downlinks.queue(db, [downlink], now=created)
    return buzzer_messages(database)[0]


def test_a_mast_out_of_reach_is_retried_and_a_late_command_given_up_with_the_reason(database):
    created = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
    message = stored_command(database, created=created)
    loop = asyncio.new_event_loop()
    try:
        soon = downlinks.RadioLink(
            loop,
            udp=lambda: None,
            mqtt=lambda: None,
            region="ru864",
            json_of={},
            clock=lambda: created.timestamp() + 2,
        )
        answer = soon.send(message)
        assert answer.verdict == outbox.RETRY and "not reachable" in (answer.error or "")
        late = downlinks.RadioLink(
            loop,
            udp=lambda: None,
            mqtt=lambda: None,
            region="ru864",
            json_of={},
            clock=lambda: (created + timedelta(seconds=31)).timestamp(),
        )
        answer = late.send(message)
        assert answer.verdict == outbox.REJECTED and "too late" in (answer.error or "")
    finally:
        loop.close()
