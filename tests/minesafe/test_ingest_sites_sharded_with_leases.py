"""Sites shared out between ingestion processes: each takes the sites it owns; when one stops, its
standby takes its site over once the lease lapses; when the owner comes back it asks, and the standby
hands the site over at its next step. Traffic of a site held elsewhere is not even decoded, and the
engine of a site handed over is dropped. A process that cannot reach the database keeps its sites until
their lease lapses, then takes none."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from typer.testing import CliRunner

from tests.minesafe.uplink_fixtures import START, UDP_MAST, truck_frame
from tests.support import wait_until
from tocsin.cli import app as cli
from tocsin.core import leases
from tocsin.core.clock import FixedClock
from tocsin.core.db import Database
from tocsin.minesafe.engine import Engine
from tocsin.minesafe.ingest import chirpstack, simulated
from tocsin.minesafe.ingest.pipeline import Ingestion
from tocsin.minesafe.ingest.runner import build
from tocsin.minesafe.ingest.shards import Shards, attach, sites_of
from tocsin.minesafe.ingest.uplinks import Uplink
from tocsin.minesafe.model import Kind, Report
from tocsin.minesafe.simulator import HeardPacket
from tocsin.minesafe.site import load_example_site

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
