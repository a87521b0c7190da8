"""End to end, as a mine runs it: the quarry simulator publishes what its masts hear on a Mosquitto of the
test's own in ChirpStack v4 JSON (built with the official ``chirpstack-api`` messages); the ingestion
subscribes, merges the masts' copies, runs the site's engine and stores positions and alarms; the
dispatch room, open in two browsers, shows the run-over alarm without a reload; an operator acknowledges
it in Russian and the viewer's screen shows who did."""

from __future__ import annotations

import asyncio

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from tests.browser import sign_in_page
from tests.minesafe.runner_thread import RunnerThread
from tests.mosquitto import Mosquitto
from tests.support import wait_until
from tocsin.minesafe.ingest import simulated
from tocsin.minesafe.ingest.pipeline import Ingestion
from tocsin.minesafe.ingest.recorder import Recorder
from tocsin.minesafe.ingest.runner import Listen, Running, build, feed_simulation, run
from tocsin.minesafe.ingest.service import Broker
from tocsin.minesafe.models import Alarm
from tocsin.minesafe.site import load_example_site

pytestmark = [pytest.mark.browser, pytest.mark.slow]
SITE = load_example_site()
LIVE_ON = "This page updates by itself."


def start_ingestion(database, broker: Mosquitto) -> tuple[RunnerThread, Ingestion, Running]:
    ingestion = Ingestion({SITE.name: SITE}, simulated.gateways(SITE))
    recorder = Recorder(database, {SITE.name: SITE})
    service = build(ingestion, on_events=recorder.add_events, on_reports=recorder.add_reports)
    running = Running(service)
    masts = Broker(port=broker.port, client_id="simulated-bridges")

    async def feed() -> None:  # the bridges publish at QoS 0: start once the ingestion listens
        while not service.connected.is_set():
            await asyncio.sleep(0.05)
        await feed_simulation(service, SITE, broker=masts, rounds=1, seconds=600)

    listen = Listen(Broker(port=broker.port), None, None)
    thread = RunnerThread(running, run(service, listen, running, recorder, also=[feed]))
    thread.start()
    return thread, ingestion, running


def run_over_alarm(database) -> int | None:
    with database.session() as db:
        query = select(Alarm.id).where(
            Alarm.type == "run_over", Alarm.level == "DANGER", Alarm.state == "raised"
        )
        return db.scalars(query.order_by(Alarm.id)).first()


def test_the_simulated_quarry_reaches_two_screens_through_mosquitto_and_an_ack_crosses(
    tmp_path, page, browser, base_url, database
):
    broker = Mosquitto(tmp_path).start()
    viewer_context = browser.new_context(base_url=base_url, locale="en-GB")
    thread = None
    try:
        viewer = viewer_context.new_page()
        sign_in_page(viewer, database, "gate", ["viewer"])
        viewer.goto("/minesafe/?lang=en")
        expect(viewer.locator("[data-live-status]")).to_have_text(LIVE_ON, timeout=15_000)
        viewer.evaluate("window.notReloaded = true")
        sign_in_page(page, database, "op", ["operator"])
        page.goto("/minesafe/?lang=ru")

        thread, ingestion, running = start_ingestion(database, broker)
        alarm_id = wait_until(lambda: run_over_alarm(database), what="a run-over alarm stored", timeout=30)
        alarm = f"#alarm-{alarm_id}"
        expect(viewer.locator(alarm)).to_contain_text("Run-over danger", timeout=15_000)
        expect(page.locator(alarm)).to_contain_text("Опасность наезда", timeout=15_000)

        page.locator(alarm).get_by_role("button", name="Подтвердить тревогу").click()
        expect(page.locator(alarm)).to_contain_text("подтверждена · op", timeout=15_000)
        expect(viewer.locator(f"{alarm} .state")).to_contain_text("acknowledged · by op", timeout=15_000)
        assert viewer.evaluate("window.notReloaded") is True
    finally:
        viewer_context.close()
        if thread is not None:
            thread.stop()
        broker.stop()
    assert running.service.counts["mqtt_messages"] > 0 and ingestion.counts["reports"] > 0
    assert ingestion.counts["copies"] > 0  # several masts heard the same frames: each counted once
    with database.session() as db:
        stored = db.get(Alarm, alarm_id)
        assert (stored.state, stored.acknowledged_by) == ("acknowledged", "op")
