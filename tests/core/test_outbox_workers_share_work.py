"""Several workers share the queue: each message is delivered once; a dead worker's lease runs out."""

from __future__ import annotations

import threading
from collections import Counter

from sqlalchemy import select

from tests.receiver import partner
from tocsin.core import outbox
from tocsin.core.outbox import OutboxMessage, Worker


def test_two_workers_deliver_every_message_exactly_once(database, clock):
    workers_count = 2 if database.dialect == "sqlite" else 3
    with partner() as receiver:
        with database.session() as db:
            for n in range(120):
                outbox.enqueue(
                    db,
                    desk="test",
                    kind="M2",
                    partner="OC",
                    url=f"{receiver.url}/v1/x",
                    payload={"n": n},
                    stream=f"s{n}",
                    now=clock(),
                )
        workers = [
            Worker(database, schedule=[60], name=f"w{i}", clock=clock, batch=10) for i in range(workers_count)
        ]
        threads = [threading.Thread(target=w.run, kwargs={"stop_when_idle": True}) for w in workers]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        for w in workers:
            w.close()
    counts = Counter(r["json"]["n"] for r in receiver.received)
    assert sorted(counts) == list(range(120))
    assert set(counts.values()) == {1}
    with database.session() as db:
        assert {m.status for m in db.scalars(select(OutboxMessage))} == {"delivered"}


def test_a_claimed_message_of_a_dead_worker_is_taken_over_after_its_lease(database, clock):
    with partner() as receiver:
        with database.session() as db:
            outbox.enqueue(
                db,
                desk="test",
                kind="M2",
                partner="OC",
                url=f"{receiver.url}/v1/x",
                payload={"n": 1},
                stream="s",
                now=clock(),
            )
        dead = Worker(database, schedule=[60], name="dead", clock=clock, lease_seconds=60)
        assert len(dead.claim()) == 1  # claimed, then the process "dies" before sending
        alive = Worker(database, schedule=[60], name="alive", clock=clock)
        assert alive.run_once() == 0
        clock.advance(seconds=61)
        assert alive.run_once() == 1
        dead.close()
        alive.close()
    assert len(receiver.received) == 1
