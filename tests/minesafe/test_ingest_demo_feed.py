"""The demo's simulated masts: through a broker when one answers, in process otherwise, the engine gets
the quarry's reports and raises its alarms either way."""

from __future__ import annotations

import asyncio

import pytest

from tests.mosquitto import Mosquitto
from tests.support import free_port, run_async
from tocsin.minesafe.ingest import simulated
from tocsin.minesafe.ingest.pipeline import Ingestion
from tocsin.minesafe.ingest.runner import Listen, broker_answers, build, feed_simulation, run
from tocsin.minesafe.ingest.service import Broker
from tocsin.minesafe.site import load_example_site

pytestmark = pytest.mark.slow
SITE = load_example_site()


async def fed(broker: Broker | None, seconds: float) -> tuple[list, dict]:
    """Ingestion fed ``seconds`` of the simulation at 200× speed; the events and counts once it is done."""
    events: list = []
    service = build(Ingestion({SITE.name: SITE}, simulated.gateways(SITE)), on_events=events.extend)
    listen = Listen(broker, None, None)
    running = asyncio.create_task(run(service, listen))
    if broker is not None:
        await asyncio.wait_for(service.connected.wait(), timeout=15)
    await asyncio.wait_for(
        feed_simulation(service, SITE, broker=broker, speed=200, rounds=1, seconds=seconds), 60
    )
    seen, still = -1, 0
    for _ in range(400):  # until the last messages crossed the broker and the last window closed
        taken = service.ingestion.counts["reports"]
        still = still + 1 if taken == seen and service.batcher.due_in() is None else 0
        if still >= 10:  # half a second with nothing new
            break
        seen = taken
        await asyncio.sleep(0.05)
    else:
        raise AssertionError("the reports never stopped coming")
    running.cancel()
    await asyncio.gather(running, return_exceptions=True)
    return events, dict(service.ingestion.counts)


def test_in_process_when_no_broker_answers():
    assert not broker_answers(Broker(port=free_port()))
    events, counts = run_async(fed(None, 90))
    assert counts["reports"] > 1000 and counts["copies"] > 0
    assert any(e.type == "collision" for e in events)


def test_through_the_broker_when_one_answers(tmp_path):
    mosquitto = Mosquitto(tmp_path).start()
    try:
        broker = Broker(port=mosquitto.port)
        assert broker_answers(broker)
        events, counts = run_async(fed(broker, 90))
    finally:
        mosquitto.stop()
    in_process, direct = run_async(fed(None, 90))
    assert counts["reports"] == direct["reports"]
    assert [(e.type, e.ids, e.state) for e in events] == [(e.type, e.ids, e.state) for e in in_process]
