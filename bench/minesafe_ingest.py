"""The ingestion's cost per message against the engine's per report, in one run (imported by
``bench/minesafe.py``, which prints the figures under ``ingest``).

The example quarry's simulator (20 trackers, 3 masts, station packets) gives the frames; each path
decodes the same air: the ChirpStack bridge's protojson and protobuf, the Semtech UDP forwarder's
PUSH_DATA, and phones' OsmAnd queries for the same fixes. CPU is the thread's, over the whole list."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from typing import Any

from harness import scratch_database
from tocsin.core.db import Database
from tocsin.core.migrate import upgrade
from tocsin.minesafe import store
from tocsin.minesafe.engine import Engine
from tocsin.minesafe.ingest import chirpstack, osmand, semtech, simulated
from tocsin.minesafe.ingest.pipeline import Ingestion, Phone
from tocsin.minesafe.model import Report
from tocsin.minesafe.simulator import SimConfig, simulate
from tocsin.minesafe.site import Site, load_example_site

START = 1_796_000_000.0


def cpu_us(work: Callable[[], Any], count: int) -> float:
    """Thread CPU microseconds per item of ``work`` (which handles ``count`` items)."""
    started = time.thread_time()
    work()
    return round((time.thread_time() - started) * 1e6 / max(count, 1), 2)


def ticks(site: Site, seconds: float, json_form: bool) -> list[list[tuple[str, bytes]]]:
    config = SimConfig()
    return [
        simulated.messages(tick, site, start=START, region="ru864", json=json_form)
        for tick in simulate(site, config, seconds)
    ]


def push_data(topic_payload: tuple[str, bytes], token: int) -> bytes:
    """The same hearing as a Semtech PUSH_DATA datagram."""
    topic, payload = topic_payload
    uplink = chirpstack.decode(topic, payload, now=START)
    gps_ms = int((uplink.received - 315_964_800 + 18) * 1000)
    rxpk = {"tmms": gps_ms, "freq": 868.9, "stat": 1, "modu": "LORA", "datr": "SF7BW125", "codr": "4/5"}
    rxpk |= {
        "rssi": -92,
        "lsnr": 6.5,
        "size": len(uplink.payload),
        "data": base64.b64encode(uplink.payload).decode(),
    }
    head = bytes([2]) + token.to_bytes(2, "big") + b"\x00" + bytes.fromhex(uplink.gateway)
    return head + json.dumps({"rxpk": [rxpk]}).encode()


def phone_queries(reports: list[Report], site: Site) -> list[dict[str, str]]:
    """The same fixes as Traccar Client's OsmAnd queries (speed in knots)."""
    queries = []
    for report in reports:
        lat, lon = site.grid.to_wgs84(report.x, report.y)
        queries.append(
            {
                "id": report.tracker,
                "timestamp": f"{report.t:.3f}",
                "lat": f"{lat:.7f}",
                "lon": f"{lon:.7f}",
                "speed": f"{report.speed * 1.943844:.2f}",
                "batt": "80",
            }
        )
    return queries


def run_ingest(seconds: float) -> dict[str, Any]:
    site = load_example_site()
    gateways = simulated.gateways(site)
    as_json, as_protobuf = ticks(site, seconds, True), ticks(site, seconds, False)
    messages = [m for tick in as_json for m in tick]
    figures: dict[str, Any] = {"simulated_seconds": seconds, "messages": len(messages)}

    def through(form: list[list[tuple[str, bytes]]]) -> Callable[[], list[list[Report]]]:
        def work() -> list[list[Report]]:
            pipeline = Ingestion({site.name: site}, gateways)
            return [
                [r for t, p in tick for r in pipeline.reports(chirpstack.decode(t, p, now=START))]
                for tick in form
            ]

        return work

    batches = through(as_json)()
    reports = sum(len(b) for b in batches)
    figures["reports"] = reports
    figures["cpu_us_per_message"] = {
        "chirpstack_json": cpu_us(through(as_json), len(messages)),
        "chirpstack_protobuf": cpu_us(through(as_protobuf), len(messages)),
    }
    datagrams = [push_data(m, n % 65536) for n, m in enumerate(messages)]

    def udp() -> None:
        pipeline = Ingestion({site.name: site}, gateways)
        for datagram in datagrams:
            for uplink in semtech.parse_datagram(datagram, now=START).uplinks:
                pipeline.reports(uplink)

    figures["cpu_us_per_message"]["semtech_udp"] = cpu_us(udp, len(datagrams))
    flat = [r for b in batches for r in b]
    queries = phone_queries(flat, site)
    phones = {r.tracker: Phone(r.tracker, site.name, r.kind) for r in flat}

    def phones_in() -> None:
        pipeline = Ingestion({site.name: site}, gateways, phones=phones)
        for query in queries:
            pipeline.phone_reports([osmand.parse_params(query)])

    figures["cpu_us_per_message"]["osmand_query"] = cpu_us(phones_in, len(queries))

    def engine_only() -> None:
        engine = Engine()
        for batch in batches:
            engine.ingest_many(batch)

    engine_only()  # compiles the kernels and warms the caches: the measured run is the second
    figures["engine_cpu_us_per_report"] = cpu_us(engine_only, reports)
    figures["storage_cpu_us_per_report_sqlite"] = storage(site, batches, reports)
    json_path = figures["cpu_us_per_message"]["chirpstack_json"] * len(messages) / reports
    figures["ingest_json_over_engine_per_report"] = round(json_path / figures["engine_cpu_us_per_report"], 2)
    return figures


def storage(site: Site, batches: list[list[Report]], reports: int) -> float:
    """Writing the positions (one transaction per simulated second) to a fresh SQLite database."""
    with scratch_database("sqlite", prefix="tocsin_bench_ms") as url:
        database = Database(url)
        upgrade(database)

        def write() -> None:
            for batch in batches:
                with database.session() as db:
                    store.save_reports(db, batch, {site.name: site})

        try:
            return cpu_us(write, reports)
        finally:
            database.engine.dispose()
