"""A worker killed mid-delivery stops beating; the others take its leased messages once its heartbeat is
stale (seconds), not at the end of the whole lease (a minute). A worker that stops cleanly releases its
leases and says goodbye."""

from __future__ import annotations

from sqlalchemy import select

from tests.receiver import partner
from tocsin.core import outbox
from tocsin.core.outbox import OutboxMessage, Worker, WorkerHeartbeat


def one_message(database, clock, url: str) -> None:
    with database.session() as db:
        outbox.enqueue(
            db,
            desk="test",
            kind="M2",
            partner="OC",
            url=f"{url}/v1/x",
            payload={"n": 1},
            stream="s",
            now=clock(),
        )


def test_the_message_of_a_silent_worker_is_taken_after_its_heartbeat_goes_stale(database, clock):
    with partner() as receiver:
        one_message(database, clock, receiver.url)
        dead = Worker(database, schedule=[60], name="dead", clock=clock, lease_seconds=60)
        assert len(dead.claim()) == 1  # it claims, then "dies": no more heartbeats
        alive = Worker(database, schedule=[60], name="alive", clock=clock)
        assert alive.run_once() == 0
        clock.advance(seconds=Worker.STALE_AFTER - 1)
        assert alive.run_once() == 0  # still fresh: maybe only slow
        clock.advance(seconds=2)
        assert alive.run_once() == 1  # stale long before the 60 s lease ends
        alive.close()
    assert len(receiver.received) == 1


def test_a_beating_worker_keeps_its_lease(database, clock):
    with partner() as receiver:
        one_message(database, clock, receiver.url)
        slow = Worker(database, schedule=[60], name="slow", clock=clock, lease_seconds=60)
        assert len(slow.claim()) == 1
        other = Worker(database, schedule=[60], name="other", clock=clock)
        for _ in range(5):
            clock.advance(seconds=Worker.STALE_AFTER - 1)
            slow.beat(force=True)
            assert other.run_once() == 0
        slow.close()
        other.close()
    assert receiver.received == []


def test_a_clean_stop_releases_leases_and_the_heartbeat(database, clock):
    with partner() as receiver:
        one_message(database, clock, receiver.url)
        leaving = Worker(database, schedule=[60], name="leaving", clock=clock)
        assert len(leaving.claim()) == 1
        leaving.close()
        with database.session() as db:
            message = db.scalar(select(OutboxMessage))
            assert message.lease_owner is None
            assert db.scalar(select(WorkerHeartbeat)) is None
        successor = Worker(database, schedule=[60], name="successor", clock=clock)
        assert successor.run_once() == 1
        successor.close()
    assert len(receiver.received) == 1


def test_two_workers_with_the_same_name_do_not_share_leases(database, clock):
    with partner() as receiver:
        one_message(database, clock, receiver.url)
        first = Worker(database, schedule=[60], name="demo-worker", clock=clock)
        assert len(first.claim()) == 1
        second = Worker(database, schedule=[60], name="demo-worker", clock=clock)
        assert second.owner != first.owner
        assert second.run_once() == 0
        first.close()
        second.close()
