"""A partner whose token endpoint hangs holds up only its own messages: a healthy partner's messages are
delivered while the hanging fetch is still waiting, and the hanging partner's other messages fail fast
(to be retried on their schedule) instead of queueing behind it."""

from __future__ import annotations

import asyncio
import threading
import time

from sqlalchemy import select
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

from tests.receiver import partner, running
from tocsin.core import outbox
from tocsin.core.outbox import OutboxMessage, Worker


def hanging_token_server(release: threading.Event, calls: list[float]) -> Starlette:
    async def token(request):
        calls.append(time.monotonic())
        while not release.is_set():
            await asyncio.sleep(0.05)
        return JSONResponse({"access_token": "late", "expires_in": 3600})

    async def message(request):
        return JSONResponse({"Code_Reponse": 0})

    return Starlette(
        routes=[Route("/oauth/token", token, methods=["POST"]), Route("/v1/x", message, methods=["POST"])]
    )


def queue(database, clock, *, partner_code: str, url: str, credential: str | None, count: int) -> None:
    with database.session() as db:
        for n in range(count):
            outbox.enqueue(
                db,
                desk="test",
                kind="M2",
                partner=partner_code,
                url=url,
                payload={"n": n},
                stream=f"{partner_code}-{n}",
                now=clock(),
                credential=credential,
            )


def statuses(database, partner_code: str) -> list[str]:
    with database.session() as db:
        return list(db.scalars(select(OutboxMessage.status).where(OutboxMessage.partner == partner_code)))


def test_a_hanging_token_endpoint_does_not_hold_up_a_healthy_partner(database, clock):
    release, calls = threading.Event(), []
    with partner() as healthy, running(hanging_token_server(release, calls)) as stuck_url:
        with database.session() as db:
            outbox.set_credential(
                db, name="stuck", token_url=f"{stuck_url}/oauth/token", client_id="us", client_secret="s"
            )
            outbox.set_credential(
                db, name="healthy", token_url=f"{healthy.url}/oauth/token", client_id="us", client_secret="s"
            )
        queue(database, clock, partner_code="STUCK", url=f"{stuck_url}/v1/x", credential="stuck", count=30)
        queue(database, clock, partner_code="GOOD", url=f"{healthy.url}/v1/x", credential="healthy", count=30)
        worker = Worker(database, schedule=[60], name="w", clock=clock, timeout=60, batch=20, per_partner=8)
        runner = threading.Thread(target=worker.run, kwargs={"stop_when_idle": True})
        runner.start()
        try:
            deadline = time.monotonic() + 20  # far below the hanging fetch's 60 s time-out
            while statuses(database, "GOOD").count("delivered") < 30:
                assert time.monotonic() < deadline, "the healthy partner waited behind the hanging one"
                time.sleep(0.05)
            assert not release.is_set() and len(calls) == 1  # one fetch at a time per credential
        finally:
            release.set()
            runner.join(60)
            worker.close()
    assert len(healthy.received) == 30


def test_after_a_failed_token_fetch_the_partners_messages_fail_fast(database, clock):
    with partner() as receiver:
        with database.session() as db:
            outbox.set_credential(
                db, name="down", token_url="http://127.0.0.1:9/oauth/token", client_id="us", client_secret="s"
            )
        queue(database, clock, partner_code="DOWN", url=f"{receiver.url}/v1/x", credential="down", count=10)
        worker = Worker(database, schedule=[60], name="w", clock=clock, timeout=5)
        try:
            worker.run(stop_when_idle=True)
        finally:
            worker.close()
    with database.session() as db:
        messages = list(db.scalars(select(OutboxMessage)))
    assert {m.status for m in messages} == {"pending"}  # each will be retried on its schedule
    assert all("token endpoint of down" in (m.last_error or "") for m in messages)
    assert receiver.received == []
