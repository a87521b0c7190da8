"""The minesafe ingestion end to end, as real processes on one machine (imported by ``bench/minesafe.py``,
which prints the figures under ``e2e``): reports in through MQTT, Semtech UDP and OsmAnd HTTP, stored in
a scratch database, pushed live to signed-in dispatch pages, and the sites shared out between processes.

What runs where:

* OsmAnd (phones) and the live push: ``tocsin minesafe ingest`` itself (one site, N phones registered
  with ``--phones``, MQTT, UDP and OPC UA off), the web app under uvicorn on the same database, and
  10 SSE clients each signed in through the login form, on ``/minesafe/live``.
* MQTT (ChirpStack v4 JSON on a private Mosquitto) and Semtech UDP: a radio frame carries a 5-bit
  tracker id per site, and the CLI takes one ``--site``, so N radio trackers need N / 20 sites (copies
  of the example quarry, 20 trackers each) in one process. That process is built here from the parts
  the CLI builds (``Ingestion``, ``runner.build``, ``Recorder``, ``runner.run``, ``Shards``), started
  as ``python bench/minesafe_e2e.py serve CONFIG`` ("serve" below).
* Sharding: two "serve" processes, each owning half of those sites through the leases, against the one
  process owning all of them (the MQTT row), same traffic through the same broker.

Every radio frame is heard by one mast (no copies); every tracker reports once a second, spread evenly
over the second. CPU is the ingestion process's (and its children's) from ``/proc``, from the first
message sent to the last position stored; "kept up" compares positions in the database with what was
sent (accepted, for HTTP).
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import zlib
from collections.abc import Callable
from contextlib import ExitStack, suppress
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import yaml

from harness import (
    PYTHON,
    TOCSIN,
    console,
    free_port,
    log_tail,
    percentile,
    scratch_database,
    start,
    stop,
    tree_cpu,
    wait_until_up,
)

TRACKERS_PER_SITE = 20  # the example quarry's; a frame's id has 5 bits
SSE_CLIENTS = 10
SECRET = "bench-minesafe-e2e-secret-key-0123456789"
VIEWER, PASSWORD = "bench-viewer", "correct horse 42"
MOSQUITTO = Path("/usr/sbin/mosquitto")
REGION = "ru864"


# ---------------------------------------------------------------- sites, phones, the scratch database


def site_names(count: int, prefix: str) -> list[str]:
    """``count`` site names whose simulated masts' gateway EUIs differ (the EUI holds 16 bits of the
    name's CRC, so a clash is skipped)."""
    names: list[str] = []
    seen: set[int] = set()
    number = 0
    while len(names) < count:
        name = f"{prefix}{number:03d}"
        crc = zlib.crc32(name.encode()) & 0xFFFF
        if crc not in seen:
            seen.add(crc)
            names.append(name)
        number += 1
    return names


def write_sites(folder: Path, names: list[str]) -> list[Path]:
    """Copies of the example quarry under other names, one YAML file each."""
    from tocsin.minesafe.site import example_site_path

    raw = yaml.safe_load(example_site_path().read_text(encoding="utf-8"))
    paths = []
    for name in names:
        path = folder / f"{name}.yaml"
        path.write_text(yaml.safe_dump({**raw, "name": name}, allow_unicode=True), encoding="utf-8")
        paths.append(path)
    return paths


def prepare(url: str) -> None:
    """Migrate the scratch database and add the viewer the SSE clients sign in as."""
    from tocsin.core.auth import upsert_staff
    from tocsin.core.db import Database
    from tocsin.core.migrate import upgrade

    database = Database(url)
    upgrade(database)
    with database.session() as db:
        upsert_staff(db, username=VIEWER, password=PASSWORD, roles=["viewer"])
    database.engine.dispose()


def positions(url: str) -> int:
    from sqlalchemy import func, select

    from tocsin.core.db import Database
    from tocsin.minesafe.models import Position

    database = Database(url)
    try:
        with database.session() as db:
            return int(db.scalar(select(func.count()).select_from(Position)) or 0)
    finally:
        database.engine.dispose()


def settle(url: str, expected: int, timeout: float = 15.0) -> tuple[int, float]:
    """Wait until ``expected`` positions are stored, or none came for 2 s: (stored, when the last came)."""
    deadline, last, last_at = time.monotonic() + timeout, -1, time.monotonic()
    while time.monotonic() < deadline:
        found = positions(url)
        if found != last:
            last, last_at = found, time.monotonic()
        if found >= expected or time.monotonic() - last_at > 2.0:
            break
        time.sleep(0.05)
    return last, last_at


# ---------------------------------------------------------------- the "serve" process


def serve(config_path: str) -> None:
    """An ingestion process for several sites, built as ``tocsin minesafe ingest`` builds one: prints
    "ready" once every transport listens (and, with ``own``, once it holds those sites' leases)."""
    from tocsin.core.db import Database
    from tocsin.minesafe.ingest import simulated
    from tocsin.minesafe.ingest.pipeline import Ingestion
    from tocsin.minesafe.ingest.recorder import Recorder
    from tocsin.minesafe.ingest.runner import Listen, Running, build, run
    from tocsin.minesafe.ingest.service import Broker
    from tocsin.minesafe.ingest.shards import Shards, attach
    from tocsin.minesafe.site import load_site

    config = json.loads(Path(config_path).read_text())
    sites = {site.name: site for site in map(load_site, config["sites"])}
    gateways = {eui: name for site in sites.values() for eui, name in simulated.gateways(site).items()}
    ingestion = Ingestion(sites, gateways)
    database = Database(os.environ["TOCSIN_DATABASE_URL"])
    recorder = Recorder(database, sites)
    service = build(ingestion, on_events=recorder.add_events, on_reports=recorder.add_reports)
    listen = Listen(
        broker=Broker(port=config["mqtt"], client_id=config["name"]) if config.get("mqtt") else None,
        udp=("127.0.0.1", config["udp"]) if config.get("udp") else None,
        osmand=None,
    )
    running = Running(service)
    shards = None
    if config.get("own"):
        shards = Shards(database, tuple(config["own"]), name=config["name"])
        attach(shards, service)

    async def say_ready() -> None:
        await running.ready.wait()
        if listen.broker is not None:
            await service.connected.wait()
        while shards is not None and shards.held != set(shards.own):
            await asyncio.sleep(0.05)
        print("ready", flush=True)

    async def main() -> None:
        task = asyncio.current_task()
        assert task is not None
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
        also = [say_ready] + ([shards.run] if shards is not None else [])
        with suppress(asyncio.CancelledError):
            await run(service, listen, running, recorder=recorder, also=also)

    asyncio.run(main())
    counts = dict(ingestion.counts) | {f"service:{k}": v for k, v in service.counts.items()}
    print(json.dumps(counts | {"recorder:failures": recorder.failures}), flush=True)


def start_serve(
    stack: ExitStack, work: Path, url: str, name: str, sites: list[Path], **listen: Any
) -> tuple[Any, Path]:
    config = work / f"{name}.json"
    config.write_text(json.dumps({"name": name, "sites": [str(p) for p in sites], **listen}))
    log = work / f"{name}.log"
    process = start(
        stack, [PYTHON, __file__, "serve", str(config)], {"TOCSIN_DATABASE_URL": url}, log, pipe=True
    )
    return process, log


def counts_of(process: subprocess.Popen) -> dict[str, int]:
    """What a stopped "serve" process counted (its last line): reports, copies, replayed, refused…"""
    assert process.stdout is not None
    lines = process.stdout.read().splitlines()
    return json.loads(lines[-1]) if lines and lines[-1].startswith(b"{") else {}


def stop_all(processes: list[subprocess.Popen]) -> None:
    """SIGTERM every one first, then wait for each: their shutdowns overlap."""
    for process in processes:
        if process.poll() is None:
            with suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
    for process in processes:
        stop(process)


def wait_ready(process: Any, log: Path) -> None:
    assert process.stdout is not None
    line = process.stdout.readline()
    if line.strip() != b"ready":
        raise RuntimeError(f"the ingestion process did not start:\n{log_tail(log)}")


# ---------------------------------------------------------------- radio traffic


def radio_frames(
    names: list[str], start_at: float, seconds: int, shift: int = 0
) -> list[tuple[float, str, int, bytes]]:
    """(when, site, mast, frame) for every tracker of every site once a second, spread over the second:
    trucks on straight legs bouncing inside the site, every frame heard by one mast (each site's trucks
    report a speed of their own: the merger would take two sites' identical frames for copies);
    ``shift`` starts them that many seconds on (a warm-up's frames must not be the measured ones' bytes,
    or they merge as copies)."""
    import numpy as np

    from tocsin.minesafe.codec import encode_tracker, packet_from_report
    from tocsin.minesafe.model import Kind, Report
    from tocsin.minesafe.site import load_example_site

    base = load_example_site()
    total = len(names) * TRACKERS_PER_SITE
    rng = np.random.default_rng(11)
    pos = rng.uniform([50, 50], [2450, 1450], (total, 2))
    vel = rng.uniform(-8, 8, (total, 2))
    span = np.array([2490.0, 1490.0])
    frames = []
    for second in range(shift, shift + seconds):
        for n in range(total):
            site_name, number = names[n // TRACKERS_PER_SITE], n % TRACKERS_PER_SITE
            x, y = 5 + np.abs((pos[n] + vel[n] * second - 5) % (2 * span) - span)  # bouncing off the edges
            speed = 3.0 + (n // TRACKERS_PER_SITE % 100) * 0.14  # a speed code of each site's own
            report = Report(0.0, base.tracker_key(number), Kind.HAUL_TRUCK, float(x), float(y), speed)
            frame = encode_tracker(packet_from_report(report, site=base, seq=second % 8))
            frames.append((start_at + second - shift + n / total, site_name, number % 3, frame))
    return frames


def mqtt_messages(frames: list[tuple[float, str, int, bytes]], sites: dict[str, Any]) -> list[Any]:
    from tocsin.minesafe.ingest import simulated
    from tocsin.minesafe.simulator import HeardPacket

    return [
        (
            at,
            *simulated.message(
                HeardPacket(at, mast, frame), sites[site], start=0.0, region=REGION, json=True
            ),
        )
        for at, site, mast, frame in frames
    ]


def udp_datagrams(frames: list[tuple[float, str, int, bytes]], sites: dict[str, Any]) -> list[Any]:
    """One PUSH_DATA per frame, as the packet forwarder of the mast that heard it sends it."""
    from tocsin.minesafe.ingest import simulated

    found = []
    for index, (at, site, mast, frame) in enumerate(frames):
        gps_ms = int((at - 315_964_800 + 18) * 1000)
        rxpk = {"tmms": gps_ms, "freq": 868.9, "stat": 1, "modu": "LORA", "datr": "SF7BW125", "codr": "4/5"}
        rxpk |= {"rssi": -92, "lsnr": 6.5, "size": len(frame), "data": base64.b64encode(frame).decode()}
        head = b"\x02" + (index % 65536).to_bytes(2, "big") + b"\x00"
        head += bytes.fromhex(simulated.gateway_eui(sites[site], mast))
        found.append((at, head + json.dumps({"rxpk": [rxpk]}).encode()))
    return found


def paced(items: list[Any], send: Any) -> float:
    """Send each item at its time (its first element) counted from the first's, from now (the gateways'
    clocks then run a little behind this one: making the messages took a while); returns the sending
    window's length."""
    began, first = time.time(), items[0][0]
    for item in items:
        wait = began + item[0] - first - time.time()
        if wait > 0:
            time.sleep(wait)
        send(item)
    return time.time() - began


def through_mqtt(port: int, messages: list[Any]) -> tuple[float, int]:
    import paho.mqtt.client as mqtt

    bridge = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="bench-bridges")
    bridge.connect("127.0.0.1", port)
    bridge.loop_start()
    try:
        sent: list[Any] = []
        window = paced(messages, lambda item: sent.append(bridge.publish(item[1], item[2], qos=0)))
        sent[-1].wait_for_publish(10)  # written to the socket: the ones before it too
    finally:
        bridge.disconnect()  # before loop_stop, which otherwise waits out the loop's 1 s select
        bridge.loop_stop()
    return window, len(messages)


def through_udp(port: int, datagrams: list[Any]) -> tuple[float, int]:
    radio = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    radio.setblocking(False)
    try:
        return paced(datagrams, lambda item: radio.sendto(item[1], ("127.0.0.1", port))), len(datagrams)
    finally:
        radio.close()


def warm_up(url: str, send: Callable[[], tuple[float, int]]) -> None:
    """Traffic that is not measured: each site's engine made, kernels loaded, caches filled."""
    before = positions(url)
    settle(url, before + send()[1])


def warm_radio(url: str, broker: int, setup: Setup) -> None:
    """One second's frames of every tracker, sent at once."""
    messages = mqtt_messages(radio_frames(setup.names, time.time(), 1, shift=61), setup.sites)
    warm_up(url, partial(through_mqtt, broker, [(0.0, topic, payload) for _, topic, payload in messages]))


def warm_phones(url: str, osmand: str, count: int) -> None:
    def send() -> tuple[float, int]:
        places = phone_places(count)
        with httpx.Client(base_url=osmand, timeout=10) as http:
            for n, (lat, lon) in enumerate(places):
                query = {"id": f"ph{n:05d}", "timestamp": f"{time.time():.3f}", "lat": f"{lat:.7f}"}
                http.get("/", params=query | {"lon": f"{lon:.7f}"}).raise_for_status()
        return 0.0, count

    warm_up(url, send)


def metered_phase(url: str, pids: list[int], send: Callable[[], tuple[float, int]]) -> dict[str, Any]:
    """Run ``send`` (which returns the sending window and how many reports went), then wait for the
    positions: reports stored per second, CPU per report, lost."""
    before, cpu0 = positions(url), sum(tree_cpu(pid) for pid in pids)
    began = time.monotonic()
    window, sent = send()
    stored, last_at = settle(url, before + sent)
    cpu = sum(tree_cpu(pid) for pid in pids) - cpu0
    stored -= before
    return {
        "sent": sent,
        "stored": stored,
        "lost": sent - stored,
        "kept_up": stored >= sent,
        "offered_per_s": round(sent / window, 1),
        "stored_per_s": round(stored / window, 1),
        "store_lag_s": round(last_at - began - window, 2),  # after the last send, until the last stored
        "cpu_us_per_report": round(cpu * 1e6 / max(stored, 1), 1),
        "core_share": round(cpu / window, 3),
    }


# ---------------------------------------------------------------- phones and the live push


def phones_file(folder: Path, site: str, count: int, probes: int) -> Path:
    entries = [{"device": f"ph{n:05d}", "site": site, "kind": "person"} for n in range(count)]
    entries += [{"device": f"probe{n:04d}", "site": site, "kind": "person"} for n in range(probes)]
    path = folder / "phones.yaml"
    path.write_text(yaml.safe_dump(entries), encoding="utf-8")
    return path


def phone_places(count: int) -> list[tuple[float, float]]:
    """Where each phone stands (WGS 84), spread over the example quarry's grid."""
    import numpy as np

    from tocsin.minesafe.site import load_example_site

    grid = load_example_site().grid
    rng = np.random.default_rng(5)
    return [grid.to_wgs84(float(x), float(y)) for x, y in rng.uniform([50, 50], [2450, 1450], (count, 2))]


def phones_load(base: str, count: int, seconds: float) -> dict[str, Any]:
    """``count`` phones once a second each for ``seconds`` (its own process: ``phones`` below), as
    OsmAnd GET queries on keep-alive connections written by hand: httpx costs ~1 ms of CPU a request,
    too much to offer 1,000 a second from one process on this machine."""
    places = [(f"{lat:.7f}", f"{lon:.7f}") for lat, lon in phone_places(count)]
    host, port = base.removeprefix("http://").split(":")
    connections = min(32, max(4, count // 25))
    latencies: list[float] = []
    answers: dict[str, int] = {}

    async def connection(number: int, began: float) -> None:
        reader, writer = await asyncio.open_connection(host, int(port))
        index = number
        try:
            while True:
                due = began + index / count
                if due >= began + seconds:
                    return
                await asyncio.sleep(max(0.0, due - time.time()))
                lat, lon = places[index % count]
                sent = time.time()
                query = f"id=ph{index % count:05d}&timestamp={sent:.3f}&lat={lat}&lon={lon}&speed=2.3&batt=80"
                writer.write(f"GET /?{query} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
                head = await reader.readuntil(b"\r\n\r\n")
                length = next(
                    (
                        int(line.split(b":")[1])
                        for line in head.split(b"\r\n")
                        if line.lower().startswith(b"content-length")
                    ),
                    0,
                )
                if length:
                    await reader.readexactly(length)
                latencies.append(time.time() - sent)
                status = head.split(b" ", 2)[1].decode()
                answers[status] = answers.get(status, 0) + 1
                index += connections
        finally:
            writer.close()

    async def run() -> float:
        began = time.time()
        await asyncio.gather(*(connection(n, began) for n in range(connections)))
        return time.time() - began

    print("ready", flush=True)
    sys.stdin.readline()  # "go": the bench starts it early, its imports out of the way
    try:
        import uvloop

        window = uvloop.run(run())
    except ImportError:
        window = asyncio.run(run())
    ok = answers.get("200", 0)
    return {
        "ok": ok,
        "errors": sum(answers.values()) - ok,
        "window": window,
        "p50_ms": percentile(latencies, 0.5),
        "p99_ms": percentile(latencies, 0.99),
    }


async def sign_in(http: httpx.AsyncClient) -> None:
    """Through the login form, as a browser: the CSRF token of the form, then the form posted."""
    page = await http.get("/login")
    token = page.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
    reply = await http.post("/login", data={"username": VIEWER, "password": PASSWORD, "csrf": token})
    if reply.status_code != 303 or "/login" in reply.headers.get("location", "/login"):
        raise RuntimeError(f"the SSE client could not sign in: {reply.status_code} {reply.text[:200]}")


def sos_alarm_of(url: str, device: str) -> int | None:
    """The number of the SOS alarm a phone raised (None before it is stored)."""
    from sqlalchemy import select

    from tocsin.core.db import Database
    from tocsin.minesafe.models import Alarm

    database = Database(url)
    try:
        with database.session() as db:
            found = db.scalars(select(Alarm).where(Alarm.type == "sos")).all()
    finally:
        database.engine.dispose()
    return next((alarm.id for alarm in found if alarm.trackers == [f"phone:{device}"]), None)


async def live_probes(
    url: str, web: str, osmand: str, probes: int, seconds: float, load: Callable[[], Any]
) -> dict[str, Any]:
    """10 signed-in SSE clients on the dispatch page's stream; once they listen, ``load()`` starts the
    phones' load and ``probes`` phones raise an SOS, evenly over ``seconds``: when each client saw each
    alarm, against when its report was sent."""
    seen: list[tuple[int, int, float]] = []  # client, alarm id, when
    connected = [asyncio.Event() for _ in range(SSE_CLIENTS)]
    stop = asyncio.Event()

    async def client(number: int) -> None:
        async with httpx.AsyncClient(base_url=web, timeout=httpx.Timeout(10, read=None)) as http:
            await sign_in(http)
            async with http.stream("GET", "/minesafe/live", headers={"Accept": "text/event-stream"}) as reply:
                if reply.status_code != 200:
                    raise RuntimeError(f"/minesafe/live answered {reply.status_code}")
                connected[number].set()
                async for line in reply.aiter_lines():
                    if line.startswith("data:"):
                        now = time.time()
                        data = json.loads(line[5:]).get("data", {})
                        seen.extend((number, alarm, now) for alarm in data.get("alarms", []))
                    if stop.is_set():
                        return

    readers = [asyncio.create_task(client(n)) for n in range(SSE_CLIENTS)]
    deadline = time.monotonic() + 30
    while not all(c.is_set() for c in connected):
        failed = [r for r in readers if r.done()]
        if failed:
            failed[0].result()  # raises why the client could not listen
        if time.monotonic() > deadline:
            raise RuntimeError("the SSE clients did not connect in 30 s")
        await asyncio.sleep(0.02)
    sent: dict[str, float] = {}
    lat, lon = phone_places(1)[0]
    async with httpx.AsyncClient(base_url=osmand, timeout=10) as http:
        for n in range(probes):  # every probe heard once before, so its SOS is a change
            query = {"id": f"probe{n:04d}", "timestamp": f"{time.time():.3f}", "lat": f"{lat:.7f}"}
            (await http.get("/", params=query | {"lon": f"{lon:.7f}"})).raise_for_status()
        load()
        began = time.time()
        for n in range(probes):
            await asyncio.sleep(max(0.0, began + n * seconds / probes - time.time()))
            device = f"probe{n:04d}"
            sent[device] = time.time()
            query = {"id": device, "timestamp": f"{sent[device]:.3f}", "lat": f"{lat:.7f}"}
            reply = await http.get("/", params=query | {"lon": f"{lon:.7f}", "alarm": "sos"})
            reply.raise_for_status()
    # Events come in order: once every client has the last probe's alarm, it has had all it will get.
    last, deadline = None, time.time() + 10
    while time.time() < deadline:
        last = last or await asyncio.to_thread(sos_alarm_of, url, f"probe{probes - 1:04d}")
        if last is not None and len({c for c, a, _ in seen if a == last}) == SSE_CLIENTS:
            break
        await asyncio.sleep(0.05)
    stop.set()
    for reader in readers:
        reader.cancel()
    await asyncio.gather(*readers, return_exceptions=True)
    return {"sent": sent, "seen": seen}


def live_delays(url: str, outcome: dict[str, Any]) -> dict[str, Any]:
    """Each (client, SOS alarm) pair's delay from the probe's report to the client's event."""
    from sqlalchemy import select

    from tocsin.core.db import Database
    from tocsin.minesafe.models import Alarm

    database = Database(url)
    with database.session() as db:
        rows = db.execute(select(Alarm.id, Alarm.trackers).where(Alarm.type == "sos")).all()
    database.engine.dispose()
    device_of = {row[0]: row[1][0].removeprefix("phone:") for row in rows if row[1]}
    first: dict[tuple[int, int], float] = {}
    for number, alarm, at in outcome["seen"]:
        first.setdefault((number, alarm), at)
    delays = [
        at - outcome["sent"][device_of[alarm]]
        for (number, alarm), at in first.items()
        if device_of.get(alarm) in outcome["sent"]
    ]
    expected = len(outcome["sent"]) * SSE_CLIENTS
    return {
        "clients": SSE_CLIENTS,
        "alarms": len(outcome["sent"]),
        "alarms_stored": sum(1 for device in device_of.values() if device in outcome["sent"]),
        "deliveries": len(delays),
        "missed": expected - len(delays),
        "p50_ms": percentile(delays, 0.5),
        "p99_ms": percentile(delays, 0.99),
        "max_ms": percentile(delays, 1.0),
        "aim_p99_ms": 250,
        "aim_met": bool(delays) and len(delays) == expected and (percentile(delays, 0.99) or 0) < 250,
    }


def start_web(stack: ExitStack, work: Path, url: str) -> tuple[str, Any, Path]:
    port = free_port()
    command = [PYTHON, "-m", "uvicorn", "--factory", "tocsin.app:asgi", "--host", "127.0.0.1"]
    command += ["--port", str(port), "--no-access-log", "--log-level", "warning"]
    env = {"TOCSIN_DATABASE_URL": url, "TOCSIN_SECRET_KEY": SECRET, "TOCSIN_DESKS": "minesafe"}
    log = work / "web.log"
    return f"http://127.0.0.1:{port}", start(stack, command, env, log), log


def wait_for_port(base: str, process: Any, log: Path, timeout: float = 60.0) -> None:
    """Until the OsmAnd endpoint answers anything (it answers 400 to an empty request)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"tocsin minesafe ingest exited:\n{log_tail(log)}")
        try:
            httpx.get(base, timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.05)
    raise RuntimeError(f"{base} did not answer in {timeout} s")


def start_mosquitto(stack: ExitStack, work: Path) -> int:
    if not MOSQUITTO.exists():
        raise RuntimeError("mosquitto is missing: run scripts/ensure-system.sh (Debian package mosquitto)")
    port = free_port()
    config = work / "mosquitto.conf"
    config.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n")
    process = start(stack, [str(MOSQUITTO), "-c", str(config)], {}, work / "mosquitto.log")
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"mosquitto exited:\n{log_tail(work / 'mosquitto.log')}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return port
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("mosquitto did not listen within 15 s")


# ---------------------------------------------------------------- the scenarios


def run_e2e(trackers: int, seconds: int, *, postgresql: bool = False, probes: int = 40) -> dict[str, Any]:
    """Every figure of ``e2e``: per transport (SQLite, and PostgreSQL when asked), the live push and the
    sharding (SQLite)."""
    from tocsin.minesafe.site import load_site

    figures: dict[str, Any] = {
        "trackers": trackers,
        "hz": 1.0,
        "seconds": seconds,
        "sse_clients": SSE_CLIENTS,
    }
    with tempfile.TemporaryDirectory(prefix="tocsin_e2e_") as folder:
        work = Path(folder)
        names = site_names(-(-trackers // TRACKERS_PER_SITE), "e2e")
        paths = write_sites(work, names)
        figures["radio_sites"] = len(names)
        setup = Setup(work, names, paths, {site.name: site for site in map(load_site, paths)})
        for kind in ["sqlite"] + (["postgresql"] if postgresql else []):
            with scratch_database(kind, prefix="tocsin_bench_e2e") as url, ExitStack() as stack:
                console.log(f"e2e: {kind}: migrating the scratch database")
                prepare(url)
                figures |= one_database(stack, setup, url, kind, trackers, seconds, probes)
    return figures


@dataclass
class Setup:
    work: Path
    names: list[str]
    paths: list[Path]
    sites: dict[str, Any]


def one_database(
    stack: ExitStack, setup: Setup, url: str, kind: str, trackers: int, seconds: int, probes: int
) -> dict[str, Any]:
    """The transports on one database; on SQLite the live push and the sharding too."""
    work, names, paths, sites = setup.work, setup.names, setup.paths, setup.sites
    figures: dict[str, Any] = {}
    broker, udp = start_mosquitto(stack, work), free_port()
    # The one process owns every site through the leases, as each shard will own its half.
    radio, radio_log = start_serve(stack, work, url, f"one-{kind}", paths, mqtt=broker, udp=udp, own=names)
    phone_site = work / "phones-site.yaml"
    phone_site.write_text(paths[0].read_text().replace(f"name: {names[0]}", "name: phones"))
    osmand = f"http://127.0.0.1:{free_port()}"
    command = [TOCSIN, "minesafe", "ingest", "--site", str(phone_site), "--quiet"]
    command += ["--phones", str(phones_file(work, "phones", trackers, probes)), "--mqtt", "off"]
    command += ["--udp", "off", "--opcua", "off", "--osmand", osmand.removeprefix("http://")]
    cli_log = work / f"cli-{kind}.log"
    cli = start(stack, command, {"TOCSIN_DATABASE_URL": url}, cli_log)
    web = start_web(stack, work, url) if kind == "sqlite" else None
    loader = phones_loader(osmand, trackers, seconds)
    stack.callback(stop, loader)
    console.log("e2e: starting the ingestion processes and the web app")
    wait_ready(radio, radio_log)
    wait_for_port(osmand, cli, cli_log)
    if web is not None:
        wait_until_up(f"{web[0]}/ping", web[1], web[2], timeout=60)
    warm_radio(url, broker, setup)
    warm_phones(url, osmand, min(trackers, 50))
    console.log("e2e: MQTT (ChirpStack JSON)")
    messages = mqtt_messages(radio_frames(names, time.time(), seconds), sites)
    row = {"mqtt_chirpstack_json": metered_phase(url, [radio.pid], partial(through_mqtt, broker, messages))}
    datagrams = udp_datagrams(radio_frames(names, time.time(), seconds), sites)
    console.log("e2e: Semtech UDP")
    row["semtech_udp"] = metered_phase(url, [radio.pid], partial(through_udp, udp, datagrams))
    stop(radio)  # it hands its sites back as it stops
    figures[f"counts_{kind}"] = counts_of(radio)
    console.log("e2e: OsmAnd" + (" and the live push" if web is not None else ""))
    row["osmand_http"], live = phones_phase(url, cli.pid, osmand, web, loader, seconds, probes)
    stop_all([cli] + ([web[1]] if web is not None else []))
    figures[f"transports_{kind}"] = row
    if live is not None:
        figures["live_push"] = live
        console.log("e2e: sharding")
        figures["sharding"] = sharding(stack, setup, url, broker, seconds, row)
    return figures


def phones_loader(osmand: str, trackers: int, seconds: int) -> subprocess.Popen:
    """The phones' load generator, started and waiting for "go" on its standard input."""
    return subprocess.Popen(
        [PYTHON, __file__, "phones", osmand, str(trackers), str(seconds)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )


def phones_phase(
    url: str, pid: int, osmand: str, web: Any, loader: subprocess.Popen, seconds: int, probes: int
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """The phones' load (``loader``) while (with ``web``) the SSE clients measure the push."""
    assert loader.stdout is not None
    if loader.stdout.readline().strip() != "ready":
        raise RuntimeError("the phones' load generator did not start")
    outcome: dict[str, Any] = {}

    def load() -> subprocess.Popen:
        assert loader.stdin is not None
        loader.stdin.write("go\n")
        loader.stdin.flush()
        return loader

    def send() -> tuple[float, int]:
        if web is not None:
            outcome.update(asyncio.run(live_probes(url, web[0], osmand, probes, seconds - 0.5, load)))
            extra = 2 * probes  # each probe's first fix and its SOS
        else:
            load()
            extra = 0
        result = json.loads(loader.communicate(timeout=seconds + 60)[0].splitlines()[-1])
        outcome["load"] = result
        return result["window"], result["ok"] + extra

    row = metered_phase(url, [pid], send)
    row["http_errors"] = outcome["load"]["errors"]
    row["http_p99_ms"] = outcome["load"]["p99_ms"]
    return row, (live_delays(url, outcome) if web is not None else None)


def sharding(
    stack: ExitStack, setup: Setup, url: str, broker: int, seconds: int, one: dict[str, Any]
) -> dict[str, Any]:
    """Two processes each owning half the sites (leases in the same database), the same MQTT traffic as
    the one process's row."""
    half = len(setup.names) // 2
    shards = [
        start_serve(stack, setup.work, url, f"shard-{n}", setup.paths, mqtt=broker, own=part)
        for n, part in enumerate((setup.names[:half], setup.names[half:]))
    ]
    for process, log in shards:
        wait_ready(process, log)
    warm_radio(url, broker, setup)
    messages = mqtt_messages(radio_frames(setup.names, time.time(), seconds), setup.sites)
    two = metered_phase(url, [p.pid for p, _ in shards], partial(through_mqtt, broker, messages))
    stop_all([process for process, _ in shards])
    base = one["mqtt_chirpstack_json"]
    return {
        "sites": len(setup.names),
        "sites_per_process": [half, len(setup.names) - half],
        "one_process": base,
        "two_processes": two,
        "two_over_one_cpu": round(two["cpu_us_per_report"] / base["cpu_us_per_report"], 2),
    }


if __name__ == "__main__":
    if sys.argv[1:2] == ["serve"]:
        serve(sys.argv[2])
    elif sys.argv[1:2] == ["phones"]:
        print(json.dumps(phones_load(sys.argv[2], int(sys.argv[3]), float(sys.argv[4]))), flush=True)
    else:
        sys.exit("usage: python bench/minesafe_e2e.py serve CONFIG | phones BASE COUNT SECONDS")
