"""Sites shared out between ingestion processes: each takes the sites it owns; when one stops, its
standby takes its site over once the lease lapses; when the owner comes back it asks, and the standby
hands the site over at its next step. Traffic of a site held elsewhere is not even decoded, and the
engine of a site handed over is dropped. A process that cannot reach the database keeps its sites until
their lease lapses, then takes none."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import paho.mqtt.client as mqtt
import pytest
import yaml
from typer.testing import CliRunner

from tests.minesafe.runner_thread import RunnerThread
from tests.minesafe.uplink_fixtures import START, UDP_MAST, truck_frame
from tests.mosquitto import Mosquitto
from tests.support import wait_until
from tocsin.cli import app as cli
from tocsin.core import leases
from tocsin.core.clock import FixedClock
from tocsin.core.db import Database
from tocsin.minesafe.engine import Engine
from tocsin.minesafe.ingest import chirpstack, simulated
from tocsin.minesafe.ingest.pipeline import Ingestion
from tocsin.minesafe.ingest.runner import Listen, Running, build, run
from tocsin.minesafe.ingest.service import Broker
from tocsin.minesafe.ingest.shards import Shards, attach, sites_of
from tocsin.minesafe.ingest.uplinks import Uplink
from tocsin.minesafe.model import Kind, Report
from tocsin.minesafe.simulator import HeardPacket
from tocsin.minesafe.site import example_site_path, load_example_site, parse_site

SITE = load_example_site()
T0 = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


def pair(database, clock):
    north = Shards(database, ("north",), ("south",), name="ingest-1", ttl_s=10, clock=clock)
    south = Shards(database, ("south",), ("north",), name="ingest-2", ttl_s=10, clock=clock)
    return north, south


def test_each_takes_its_own_a_standby_takes_over_and_hands_back(database):
    clock = FixedClock(T0)
    north, south = pair(database, clock)
    north.step()
    south.step()
    assert (north.held, south.held) == ({"north"}, {"south"})

    clock.at += timedelta(seconds=11)  # ingest-2 stopped without a word: its lease lapses
    north.step()
    assert north.held == {"north", "south"}

    south.step()  # back: it asks for its site…
    assert south.held == set()
    north.step()  # …the standby lets go at its next step…
    south.step()  # …and the owner takes it
    assert (north.held, south.held) == ({"north"}, {"south"})

    south.release_all()  # a clean stop hands over at once, no lapse to wait for
    north.step()
    assert north.held == {"north", "south"}


def test_a_lease_is_one_holder_at_a_time(database):
    with database.session() as db:
        assert leases.hold(db, "x", "a", now=T0, ttl=timedelta(seconds=5))
        assert not leases.hold(db, "x", "b", now=T0 + timedelta(seconds=4), ttl=timedelta(seconds=5))
        assert leases.holding(db, "x", now=T0).owner == "a"
        assert not leases.release(db, "x", "b")
        assert leases.hold(db, "x", "b", now=T0 + timedelta(seconds=6), ttl=timedelta(seconds=5))
        assert leases.holding(db, "x", now=T0 + timedelta(seconds=20)).owner is None  # lapsed


def test_without_its_database_a_process_keeps_its_sites_only_until_the_lease_lapses(database, tmp_path):
    north = Shards(database, ("north",), name="ingest-1", ttl_s=0.3)
    north.step()
    assert north.held == {"north"}
    away = Shards(Database(f"sqlite:///{tmp_path}/gone/x.db"), ("north",), name="ingest-1", ttl_s=0.3)
    away.held, away._renewed_at = set(north.held), north._renewed_at
    lost: list[set[str]] = []
    away.on_change = lambda gained, gone: lost.append(gone)
    away.step()
    wait_until(lambda: (away.step(), not away.held)[1], what="the lapse", timeout=10)
    assert lost == [{"north"}]


def test_traffic_of_a_site_held_elsewhere_is_not_decoded_and_a_lost_site_drops_its_engine(database):
    ingestion = Ingestion({SITE.name: SITE}, simulated.gateways(SITE))
    events: list = []
    service = build(ingestion, on_events=events.extend)
    shards = Shards(database, (SITE.name,), name="ingest-1", clock=FixedClock(T0))
    attach(shards, service)

    heard = HeardPacket(t=0, mast=2, payload=truck_frame(100.0, 100.0, seq=1))
    topic, payload = simulated.message(heard, SITE, start=START, region="ru864", json=True)
    service.accept_mqtt(topic, payload)  # no lease yet: taken by nobody
    assert service.counts["not_mine"] == 1 and ingestion.counts["reports"] == 0

    shards.step()
    service.accept_mqtt(topic, payload)
    service.accept_uplink(Uplink(UDP_MAST, truck_frame(101.0, 100.0, seq=2), START + 1))
    service.batcher.flush()
    assert ingestion.counts["reports"] == 2 and SITE.name in service.batcher.engines

    with database.session() as db:
        leases.release(db, f"minesafe.site:{SITE.name}", "ingest-1")
        assert leases.hold(db, f"minesafe.site:{SITE.name}", "ingest-2", now=T0, ttl=timedelta(seconds=10))
    shards.step()
    assert shards.held == set() and SITE.name not in service.batcher.engines
    service.accept_mqtt(topic, payload)
    assert service.counts["not_mine"] == 2
    assert chirpstack.parse_topic(topic).gateway in ingestion.gateways


def test_a_silent_tracker_is_noticed_by_the_ingestion_clock():
    """Engine time is the reports' own, carried forward by the time since the newest one came."""
    now = [0.0]
    events: list = []
    service = build(Ingestion({SITE.name: SITE}, simulated.gateways(SITE)), on_events=events.extend)
    batcher = service.batcher
    batcher.clock = lambda: now[0]
    report = Report(
        t=START, tracker="quarry:3", kind=Kind.PERSON, x=500.0, y=500.0, speed=1.0, site=SITE.name
    )
    batcher.add([report])
    batcher.flush()
    assert batcher.tick() == 0
    now[0] += 3600.0
    assert batcher.tick() == 1
    assert [(e.type, e.ids) for e in events] == [("silent", ("quarry:3",))]
    assert isinstance(batcher.engine(SITE.name), Engine)


@pytest.mark.parametrize(
    "args, reason",
    [
        (["--own", "elsewhere"], "no site named elsewhere"),
        (["--own", "quarry", "--no-store"], "drop --no-store"),
    ],
)
def test_the_ingest_command_names_a_bad_shard_option(args, reason, database, monkeypatch):
    monkeypatch.setenv("TOCSIN_DATABASE_URL", database.url)
    result = CliRunner(env={"COLUMNS": "200"}).invoke(
        cli, ["minesafe", "ingest", "--mqtt", "off", "--udp", "off", "--osmand", "off", *args]
    )
    assert result.exit_code == 2 and reason in result.output


def test_site_lists_are_read_from_commas_and_repeats():
    assert sites_of(["a,b", " c ,a", ""]) == ("a", "b", "c")


def two_sites():
    data = yaml.safe_load(example_site_path().read_text(encoding="utf-8"))
    north = parse_site({**data, "name": "north"})
    return {SITE.name: SITE, "north": north}


@pytest.mark.slow
def test_each_process_subscribes_only_to_its_own_masts_and_follows_a_takeover(tmp_path, database):
    """On one broker, two processes each holding one site receive only their own masts' messages; when
    one stops, the other subscribes to its masts too."""
    sites = two_sites()
    gateways = {eui: name for site in sites.values() for eui, name in simulated.gateways(site).items()}
    broker = Mosquitto(tmp_path).start()

    def process(name: str, own: str, standby: str):
        service = build(Ingestion(sites, gateways), on_events=lambda events: None)
        shards = Shards(database, (own,), (standby,), name=name, ttl_s=2, every_s=0.2)
        attach(shards, service)
        running = Running(service)
        listen = Listen(Broker(port=broker.port, client_id=name), None, None)
        thread = RunnerThread(running, run(service, listen, running, also=[shards.run]))
        thread.start()
        return service, shards, thread

    def publish_both(client, step: int) -> None:
        for site in sites.values():
            heard = HeardPacket(
                t=step, mast=site.masts[0].id, payload=truck_frame(100.0 + step, 100.0, seq=step % 8)
            )
            client.publish(
                *simulated.message(heard, site, start=START, region="ru864", json=False)
            ).wait_for_publish(5)

    a, a_shards, a_thread = process("ingest-a", SITE.name, "north")
    b, b_shards, b_thread = process("ingest-b", "north", SITE.name)
    bridge = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="bridges")
    try:
        bridge.connect("127.0.0.1", broker.port)
        bridge.loop_start()
        wait_until(lambda: a_shards.held == {SITE.name} and b_shards.held == {"north"}, what="one site each")
        wait_until(lambda: a.connected.is_set() and b.connected.is_set(), what="both subscribed")
        wait_until(lambda: len(a._topics) == 3 * len(SITE.masts), what="A's own masts' topics")
        for step in range(3):
            publish_both(bridge, step)
        wait_until(
            lambda: a.ingestion.counts["reports"] == 3 and b.ingestion.counts["reports"] == 3, what="3 each"
        )
        assert a.counts["not_mine"] == 0 and b.counts["not_mine"] == 0  # the broker sent each only its own
        assert a.counts["mqtt_messages"] == 3 and b.counts["mqtt_messages"] == 3

        b_thread.stop()  # a clean stop hands north back at once
        wait_until(lambda: a_shards.held == {SITE.name, "north"}, what="A takes north over", timeout=20)
        wait_until(
            lambda: len(a._topics) == 3 * (len(SITE.masts) + len(sites["north"].masts)), what="A follows"
        )
        for step in range(3, 6):
            publish_both(bridge, step)
        wait_until(lambda: a.ingestion.counts["reports"] == 9, what="A takes both sites' reports")
    finally:
        bridge.loop_stop()
        a_thread.stop()
        if b_thread.thread.is_alive():
            b_thread.stop()
        broker.stop()
