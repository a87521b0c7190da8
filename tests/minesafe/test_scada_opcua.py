"""The SCADA's view over OPC UA: an asyncua client against the ingestion's real server browses the
trackers, alarms and masts from Objects/Minesafe, reads what is stored, acknowledges an alarm (kept in
the database with who), and is answered a Bad status — never a crashed server — for what it may not do."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from asyncua import Client, Node, ua
from asyncua.ua import uaerrors

from tests.minesafe.uplink_fixtures import UDP_MAST, push_data, truck_frame
from tests.support import free_port, run_async, wait_until
from tocsin.core.audit import events_for
from tocsin.minesafe import store
from tocsin.minesafe.ingest import simulated
from tocsin.minesafe.ingest.pipeline import Ingestion
from tocsin.minesafe.ingest.recorder import Recorder
from tocsin.minesafe.ingest.runner import Listen, Running, build, run
from tocsin.minesafe.model import AlarmEvent, Level, Report
from tocsin.minesafe.models import Alarm
from tocsin.minesafe.scada import NAMESPACE, Scada
from tocsin.minesafe.site import load_example_site

pytestmark = pytest.mark.slow
SITE = load_example_site()
SITES = {SITE.name: SITE}
NOW = time.time()
TOCSIN = str(Path(sys.executable).parent / "tocsin")


class Ingest:
    """The ingestion's runner with its OPC UA server on a free loopback port, on a loop in a thread."""

    def __init__(self, database: Any, *, udp: bool = False) -> None:
        self.port = free_port()
        self.udp = ("127.0.0.1", free_port()) if udp else None
        listen = Listen(broker=None, udp=self.udp, osmand=None, opcua=("127.0.0.1", self.port))
        recorder = Recorder(database, SITES)
        ingestion = Ingestion(SITES, simulated.gateways(SITE))
        service = build(ingestion, on_events=recorder.add_events, on_reports=recorder.add_reports)
        self.running = Running(service)
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self._run, args=(service, listen, recorder), daemon=True)

    @property
    def url(self) -> str:
        return f"opc.tcp://127.0.0.1:{self.port}/tocsin/minesafe/"

    def _run(self, service: Any, listen: Listen, recorder: Recorder) -> None:
        self.task = self.loop.create_task(run(service, listen, self.running, recorder))
        self.loop.run_until_complete(asyncio.wait([self.task]))

    def __enter__(self) -> Ingest:
        self.thread.start()
        wait_until(self.running.ready.is_set, what="the OPC UA server to listen", timeout=30)
        return self

    def __exit__(self, *exc: object) -> None:
        self.loop.call_soon_threadsafe(self.task.cancel)
        self.thread.join(timeout=15)
        assert not self.thread.is_alive()
        assert self.task.cancelled() or self.task.exception() is None
        self.loop.close()


def report(tracker: int, t: float, x: float, y: float, speed: float = 5.0) -> Report:
    kind = SITE.trackers[tracker].kind
    return Report(t=t, tracker=SITE.tracker_key(tracker), kind=kind, x=x, y=y, speed=speed, site=SITE.name)


def collision(state: str, t: float) -> AlarmEvent:
    return AlarmEvent(
        t=t, type="collision", level=Level.DANGER, ids=("quarry:1", "quarry:0"), state=state, distance=9.0
    )


def stored(database: Any, reports: Sequence[Report] = (), events: Sequence[AlarmEvent] = ()) -> list[Alarm]:
    with database.session() as db:
        store.save_reports(db, list(reports), SITES)
        return store.save_events(db, events, site=SITE.name, now=datetime.now(UTC))


def stored_alarm(database: Any, alarm_id: int) -> Alarm:
    with database.session() as db:
        alarm = db.get(Alarm, alarm_id)
        db.expunge(alarm)
        return alarm


async def until(condition: Callable[[], Awaitable[Any]], *, what: str, timeout: float = 15.0) -> Any:
    """Poll an async condition until it gives a true value (the server refreshes every 0.5 s)."""
    deadline = time.monotonic() + timeout
    while not (value := await condition()):
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: still not true after {timeout} s")
        await asyncio.sleep(0.05)
    return value


async def names(node: Node) -> set[str]:
    return {(await child.read_browse_name()).Name for child in await node.get_children()}


async def alarm_node(client: Client, ns: int, alarm_id: int) -> Node | None:
    alarms = await client.nodes.objects.get_child([f"{ns}:Minesafe", f"{ns}:Alarms"])
    return await alarms.get_child(f"{ns}:{alarm_id}") if str(alarm_id) in await names(alarms) else None


def test_a_scada_browses_the_trackers_reads_a_position_and_acknowledges_an_alarm(database):
    truck = report(0, NOW - 2, x=412.5, y=377.25, speed=7.5)
    [alarm] = stored(database, [truck, report(5, NOW - 1, 100.0, 200.0)], [collision("raised", NOW - 1)])

    async def scada(url: str) -> None:
        async with Client(url) as client:
            ns = await client.get_namespace_index(NAMESPACE)
            minesafe = await client.nodes.objects.get_child(f"{ns}:Minesafe")
            assert {"Sites", "Alarms", "Masts", "RefreshedAt"} <= await names(minesafe)
            trackers = await minesafe.get_child([f"{ns}:Sites", f"{ns}:quarry", f"{ns}:Trackers"])
            await until(lambda: _has(trackers, {"quarry:0", "quarry:5"}), what="the stored trackers")
            browsed = await trackers.get_child(f"{ns}:quarry:0")
            latitude, longitude = SITE.grid.to_wgs84(412.5, 377.25)
            assert await (await browsed.get_child(f"{ns}:Latitude")).read_value() == pytest.approx(latitude)
            # the same tag through its documented readable NodeId, as a SCADA binds it
            tag = client.get_node(f"ns={ns};s=Minesafe.Trackers.quarry:0.Longitude")
            assert await tag.read_value() == pytest.approx(longitude)
            read = {
                name: await client.get_node(f"ns={ns};s=Minesafe.Trackers.quarry:0.{name}").read_value()
                for name in ("X", "Y", "SpeedMps", "Kind", "Sos", "Silent", "LastFix")
            }
            assert read["X"] == 412.5 and read["Y"] == 377.25 and read["SpeedMps"] == 7.5
            assert read["Kind"] == "haul_truck" and read["Sos"] is False and read["Silent"] is False
            assert read["LastFix"].replace(tzinfo=UTC).timestamp() == pytest.approx(truck.t, abs=1e-3)
            battery = client.get_node(f"ns={ns};s=Minesafe.Trackers.quarry:0.BatteryPercent")
            unknown = await battery.read_data_value(raise_on_bad_status=False)
            assert unknown.StatusCode.name == "BadWaitingForInitialData"  # no battery level known: no data

            node = await until(lambda: alarm_node(client, ns, alarm.id), what="the stored alarm")
            state = await node.get_child(f"{ns}:State")
            assert await state.read_value() == "raised"
            assert await (await node.get_child(f"{ns}:Trackers")).read_value() == "quarry:0,quarry:1"
            assert await (await node.get_child(f"{ns}:Level")).read_value() == "DANGER"
            assert await node.call_method(f"{ns}:Acknowledge", "Ivanova") == "Ivanova"
            assert await state.read_value() == "acknowledged"
            by = await (await node.get_child(f"{ns}:AcknowledgedBy")).read_value()
            assert by == "Ivanova"
            # twice: nothing changes, the answer says who has it in hand
            assert await node.call_method(f"{ns}:Acknowledge", "Petrov") == "Ivanova"

    with Ingest(database) as ingest:
        run_async(scada(ingest.url), timeout=60)
    kept = stored_alarm(database, alarm.id)
    assert kept.state == store.ACKNOWLEDGED and kept.acknowledged_by == "Ivanova"
    with database.session() as db:
        [audited] = events_for(db, object_type="alarm", object_id=alarm.id)
        assert audited.actor == "Ivanova" and audited.action == "minesafe.alarm_acknowledged"


async def _has(node: Node, wanted: set[str]) -> bool:
    return wanted <= await names(node)


def test_garbage_calls_are_answered_a_bad_status_and_the_server_goes_on(database):
    [alarm] = stored(database, events=[collision("raised", NOW - 1)])

    async def hostile(url: str) -> None:
        async with Client(url) as client:
            ns = await client.get_namespace_index(NAMESPACE)
            node = await until(lambda: alarm_node(client, ns, alarm.id), what="the stored alarm")
            by_id = await client.nodes.objects.get_child([f"{ns}:Minesafe", f"{ns}:Alarms"])
            method = f"{ns}:Acknowledge"
            refusals: list[tuple[Node, tuple[Any, ...], type[Exception]]] = [
                (by_id, (ua.Variant(999_999_999, ua.VariantType.Int64), "Ivanova"), uaerrors.BadNotFound),
                (by_id, (ua.Variant(-1, ua.VariantType.Int64), "Ivanova"), uaerrors.BadNotFound),
                (by_id, ("7", "Ivanova"), uaerrors.BadTypeMismatch),
                (by_id, (ua.Variant(alarm.id, ua.VariantType.Int64),), uaerrors.BadArgumentsMissing),
                (by_id, (), uaerrors.BadArgumentsMissing),
                (node, (ua.Variant(42, ua.VariantType.Int32),), uaerrors.BadTypeMismatch),
                (node, ("   ",), uaerrors.BadInvalidArgument),
                (node, ("Ivanova", "Petrov"), uaerrors.BadTooManyArguments),
                (node, (), uaerrors.BadArgumentsMissing),
            ]
            for target, arguments, refused in refusals:
                with pytest.raises(refused):
                    await target.call_method(method, *arguments)
            # the method called on an object that is no alarm (the Alarms folder itself)
            with pytest.raises(uaerrors.BadNotFound):
                await by_id.call_method(
                    ua.NodeId(ua.String(f"Minesafe.Alarms.{alarm.id}.Acknowledge"), ua.Int16(ns)), "Ivanova"
                )
            assert await (await node.get_child(f"{ns}:State")).read_value() == "raised"
            # by number, as a SCADA button bound to an alarm number does: still served after all that
            answer = await by_id.call_method(method, ua.Variant(alarm.id, ua.VariantType.Int64), "Sidorov")
            assert answer == "Sidorov"

    with Ingest(database) as ingest:
        run_async(hostile(ingest.url), timeout=60)
    assert stored_alarm(database, alarm.id).acknowledged_by == "Sidorov"


def test_a_new_alarm_appears_within_a_refresh_and_a_cleared_one_refuses_acknowledgement(database):
    async def watch(url: str) -> None:
        async with Client(url) as client:
            ns = await client.get_namespace_index(NAMESPACE)
            alarms = await client.nodes.objects.get_child([f"{ns}:Minesafe", f"{ns}:Alarms"])
            assert await names(alarms) == {"Acknowledge"}
            [alarm] = await asyncio.to_thread(stored, database, [], [collision("raised", time.time())])
            node = await until(lambda: alarm_node(client, ns, alarm.id), what="the new alarm", timeout=10)
            state = await node.get_child(f"{ns}:State")
            assert await state.read_value() == "raised"
            await asyncio.to_thread(stored, database, [], [collision("cleared", time.time())])
            await until(lambda: _reads(state, "cleared"), what="the alarm cleared", timeout=10)
            assert await (await node.get_child(f"{ns}:ClearedAt")).read_value() is not None
            with pytest.raises(uaerrors.BadInvalidState):
                await node.call_method(f"{ns}:Acknowledge", "Ivanova")
            assert await state.read_value() == "cleared"

    with Ingest(database) as ingest:
        run_async(watch(ingest.url), timeout=60)


async def _reads(node: Node, value: Any) -> bool:
    return await node.read_value() == value


def test_a_frame_heard_by_a_mast_shows_its_tracker_and_the_mast(database):
    """Radio to tag: a UDP forwarder's frame → engine → recorder → database → OPC UA, and the mast's
    link quality straight from the ingestion service."""

    async def watch(url: str, ns_tag: Callable[[int, str], str]) -> None:
        async with Client(url) as client:
            ns = await client.get_namespace_index(NAMESPACE)
            x = client.get_node(ns_tag(ns, "Trackers.quarry:0.X"))
            await until(lambda: _near(x, 250.0), what="the truck's stored position")
            masts = await client.nodes.objects.get_child([f"{ns}:Minesafe", f"{ns}:Masts"])
            await until(lambda: _has(masts, {UDP_MAST}), what="the mast that heard it")
            rssi = client.get_node(ns_tag(ns, f"Masts.{UDP_MAST}.Rssi"))
            assert isinstance(await rssi.read_value(), float)
            heard = await client.get_node(ns_tag(ns, f"Masts.{UDP_MAST}.LastHeard")).read_value()
            assert heard is not None

    with Ingest(database, udp=True) as ingest:
        assert ingest.udp is not None
        radio = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        radio.settimeout(5)
        try:
            radio.sendto(push_data(truck_frame(250.0, 300.0, 1), time.time()), ingest.udp)
            assert radio.recv(64)[3] == 0x01  # PUSH_ACK
        finally:
            radio.close()
        run_async(watch(ingest.url, lambda ns, tag: f"ns={ns};s=Minesafe.{tag}"), timeout=60)


async def _near(node: Node, value: float) -> bool:
    found = await node.read_data_value(raise_on_bad_status=False)
    return found.StatusCode.is_good() and abs(found.Value.Value - value) <= 1.0


def test_the_ingest_command_serves_the_stored_state_on_its_opcua_option(database):
    stored(database, [report(3, NOW, 120.0, 80.0)])
    port = free_port()
    url = database.engine.url.render_as_string(hide_password=False)
    command = [TOCSIN, "minesafe", "ingest", "--mqtt", "off", "--udp", "off", "--osmand", "off", "--quiet"]
    process = subprocess.Popen(
        [*command, "--opcua", f"127.0.0.1:{port}"],
        env=os.environ | {"TOCSIN_DATABASE_URL": url},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )

    async def read_x() -> float:
        deadline = time.monotonic() + 30  # the command imports for a few seconds before it listens
        while True:
            try:
                async with Client(f"opc.tcp://127.0.0.1:{port}/tocsin/minesafe/") as client:
                    ns = await client.get_namespace_index(NAMESPACE)
                    x = client.get_node(f"ns={ns};s=Minesafe.Trackers.quarry:3.X")
                    return await until(partial(_value_of, x), what="the stored tracker")
            except (OSError, TimeoutError):
                assert process.poll() is None, process.stderr.read() if process.stderr else ""
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.2)

    try:
        assert run_async(read_x(), timeout=90) == 120.0
    finally:
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=20)
    assert process.returncode == 0


async def _value_of(node: Node) -> Any:
    found = await node.read_data_value(raise_on_bad_status=False)
    return found.Value.Value if found.StatusCode.is_good() else None


def test_a_bad_opcua_address_is_refused_naming_the_option():
    done = subprocess.run(
        [TOCSIN, "minesafe", "ingest", "--opcua", "nowhere"], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2
    assert "--opcua" in done.stderr and "HOST:PORT" in done.stderr


def test_refresh_time_for_a_thousand_trackers(database):
    """A figure, not a limit: the first refresh builds the nodes, the next ones write what changed."""
    n = 1000
    many = [replace(report(0, NOW, float(i), float(i)), tracker=f"quarry:{1000 + i}") for i in range(n)]
    stored(database, many)

    async def measure() -> list[float]:
        scada = Scada(database, host="127.0.0.1", port=free_port(), sites=[SITE.name])
        await scada.start()
        try:
            times = []
            for moved in (0.0, 0.0, 1.0):
                if moved:
                    moved_on = [replace(r, t=NOW + 1, x=r.x + 1) for r in many]
                    await asyncio.to_thread(stored, database, moved_on)
                await scada.refresh()
                times.append(scada.last_refresh_s)
            return times
        finally:
            await scada.stop()

    built, unchanged, moved = run_async(measure(), timeout=120)
    print(
        f"\nOPC UA refresh, {n} trackers: first (builds the nodes) {built:.2f} s, "
        f"nothing changed {unchanged * 1000:.0f} ms, all moved {moved * 1000:.0f} ms"
    )
