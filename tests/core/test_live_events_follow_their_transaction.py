"""Live events exist exactly when the change that caused them committed: a rolled-back transaction (or
savepoint) writes and signals nothing, and numbers follow commit order, so a reader that resumes after
the last number it saw never misses an event committed later with a smaller one."""

from __future__ import annotations

import queue
import threading
import time

import pytest
from sqlalchemy import event

from tocsin.core import live
from tocsin.core.errors import DomainError


@pytest.fixture
def signals(database):
    """Every signal a real listener on the test database receives, from the moment it listens."""
    received: queue.Queue[str | None] = queue.Queue()
    listener = live.Listener(database.url, received.put).start()
    assert listener.listening.wait(10), "the listener did not start"
    assert received.get(timeout=5) is None  # its own start: "look, you may have missed some"
    yield received
    listener.stop()


def topics(database, after: int = 0) -> list[str]:
    with database.session() as db:
        return [e.topic for e in live.events_after(db, after=after)]


def test_an_event_of_a_rolled_back_transaction_is_neither_written_nor_signalled(database, clock, signals):
    with pytest.raises(RuntimeError), database.session() as db:
        live.publish(db, topic="gone", data={"n": 1}, now=clock())
        raise RuntimeError("the change failed")
    with database.session() as db:
        live.publish(db, topic="kept", data={"n": 2}, now=clock())
    assert signals.get(timeout=10) == "kept"
    assert topics(database) == ["kept"]
    assert signals.empty()


def test_a_rolled_back_savepoint_takes_only_its_own_events(database, clock, signals):
    with database.session() as db:
        live.publish(db, topic="before", data={}, now=clock())
        with pytest.raises(RuntimeError), db.begin_nested():
            live.publish(db, topic="inside", data={}, now=clock())
            raise RuntimeError("the savepoint fails")
        with db.begin_nested():
            live.publish(db, topic="kept-inside", data={}, now=clock())
        live.publish(db, topic="after", data={}, now=clock())
    assert topics(database) == ["before", "kept-inside", "after"]
    received = {signals.get(timeout=10) for _ in range(3)}
    assert received == {"before", "kept-inside", "after"}


def test_events_come_in_the_order_they_were_published(database, clock):
    for n in range(5):
        with database.session() as db:
            live.publish(db, topic="count", data={"n": n}, now=clock())
    with database.session() as db:
        found = live.events_after(db, after=0)
        assert [e.data["n"] for e in found] == [0, 1, 2, 3, 4]
        assert [e.id for e in found] == sorted(e.id for e in found)
        assert [e.data["n"] for e in live.events_after(db, after=found[2].id)] == [3, 4]


def test_the_same_event_twice_in_one_transaction_is_one_event(database, clock):
    with database.session() as db:
        for _ in range(3):
            live.publish(db, topic="outbox", data={"desk": "d"}, now=clock())
        live.publish(db, topic="outbox", data={"desk": "other"}, now=clock())
    assert topics(database) == ["outbox", "outbox"]


def test_a_bad_topic_or_oversized_data_names_the_field(database, clock):
    with database.session() as db:
        with pytest.raises(DomainError) as bad_topic:
            live.publish(db, topic="Not A Topic", data={}, now=clock())
        with pytest.raises(DomainError) as too_big:
            live.publish(db, topic="big", data={"text": "x" * 5000}, now=clock())
    assert (bad_topic.value.field, too_big.value.field) == ("topic", "data")


def test_numbers_follow_commit_order_so_resuming_after_the_last_seen_misses_nothing(database, clock):
    """The first transaction takes its number, then is slow to commit; a second one publishes and commits
    meanwhile. Whatever a reader sees when the second commit returns, no event with a smaller number
    than those it saw may appear afterwards."""
    slow_commit, slow_started = threading.local(), threading.Event()

    def hold_commit(connection) -> None:
        if getattr(slow_commit, "on", False):
            slow_started.set()
            time.sleep(1.5)

    event.listen(database.engine, "commit", hold_commit)
    try:

        def slow() -> None:
            slow_commit.on = True
            with database.session() as db:
                live.publish(db, topic="first", data={}, now=clock())

        first = threading.Thread(target=slow)
        first.start()
        assert slow_started.wait(10)
        with database.session() as db:
            live.publish(db, topic="second", data={}, now=clock())
        with database.session() as db:
            seen_then = {e.id: e.topic for e in live.events_after(db, after=0)}
        first.join(10)
    finally:
        event.remove(database.engine, "commit", hold_commit)
    with database.session() as db:
        everything = {e.id: e.topic for e in live.events_after(db, after=0)}
    assert sorted(everything.values()) == ["first", "second"]
    resume_after = max(seen_then)
    later_with_smaller_number = {
        n: t for n, t in everything.items() if n <= resume_after and n not in seen_then
    }
    assert later_with_smaller_number == {}
