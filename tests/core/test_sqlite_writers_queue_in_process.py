"""SQLite: writers of one process queue on a lock instead of sleeping on the file lock, and nothing is lost
or left locked when a transaction fails."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import text

from tests.support import second_writer_queues
from tocsin.core.db import Database

pytestmark = pytest.mark.only_sqlite


@pytest.fixture
def sqlite(tmp_path):
    database = Database(f"sqlite:///{tmp_path / 'queue.db'}")
    with database.engine.begin() as connection:
        connection.execute(text("CREATE TABLE row (id INTEGER PRIMARY KEY, writer INTEGER, n INTEGER)"))
    yield database
    database.engine.dispose()


def write_rows(database: Database, writer: int, count: int, errors: list[BaseException]) -> None:
    try:
        for n in range(count):
            with database.session() as db:
                db.execute(text("SELECT count(*) FROM row")).scalar()  # a read before the write
                db.execute(text("INSERT INTO row (writer, n) VALUES (:w, :n)"), {"w": writer, "n": n})
                db.execute(text("UPDATE row SET n = n WHERE writer = :w AND n = :n"), {"w": writer, "n": n})
    except BaseException as error:  # reported to the test below
        errors.append(error)


def test_sixteen_threads_writing_at_once_all_land(sqlite):
    errors: list[BaseException] = []
    threads = [threading.Thread(target=write_rows, args=(sqlite, w, 25, errors)) for w in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads)
    assert errors == []
    with sqlite.session() as db:
        assert db.execute(text("SELECT count(*) FROM row")).scalar() == 16 * 25
        per_writer = db.execute(text("SELECT count(DISTINCT writer) FROM row")).scalar()
    assert per_writer == 16


def test_a_failed_transaction_leaves_the_queue(sqlite):
    with pytest.raises(RuntimeError), sqlite.session() as db:
        db.execute(text("INSERT INTO row (writer, n) VALUES (1, 1)"))
        raise RuntimeError("the request failed after its first write")
    done = threading.Event()

    def other_writer() -> None:
        with sqlite.session() as db:
            db.execute(text("INSERT INTO row (writer, n) VALUES (2, 1)"))
        done.set()

    thread = threading.Thread(target=other_writer)
    thread.start()
    thread.join(timeout=30)
    assert done.is_set(), "the queue was not left after the rollback"
    with sqlite.session() as db:
        assert db.execute(text("SELECT writer FROM row")).scalars().all() == [2]


def test_a_thread_writing_on_two_connections_does_not_wait_for_itself(sqlite):
    outcome: list[str] = []

    def nested() -> None:
        with sqlite.session() as outer:
            outer.execute(text("INSERT INTO row (writer, n) VALUES (1, 1)"))
            outer.commit()  # the file lock is free again, the queue too
            outer.execute(text("INSERT INTO row (writer, n) VALUES (1, 2)"))
            with sqlite.session() as inner:
                inner.execute(text("SELECT count(*) FROM row")).scalar()
            outcome.append("done")

    thread = threading.Thread(target=nested)
    thread.start()
    thread.join(timeout=30)
    assert outcome == ["done"]


def test_a_second_writer_waits_in_the_queue_not_on_the_file_lock(sqlite):
    second_writer_queues(
        sqlite,
        lambda db: db.execute(text("INSERT INTO row (writer, n) VALUES (1, 1)")),
        lambda db: db.execute(text("INSERT INTO row (writer, n) VALUES (2, 1)")),
    )
    with sqlite.session() as db:
        assert db.execute(text("SELECT writer FROM row ORDER BY writer")).scalars().all() == [1, 2]
