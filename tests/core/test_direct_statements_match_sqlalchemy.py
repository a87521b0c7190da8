"""``Direct``: hot-path statements run on the driver's cursor store exactly what SQLAlchemy's own
execution stores (types, defaults, literals), in the session's transaction, with SQLAlchemy's errors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import bindparam, exc, func, insert, select, text

from tests.support import second_writer_queues
from tocsin.core.audit import AUDIT_TABLE, AuditEvent
from tocsin.core.db import Database, Direct
from tocsin.core.outbox import OutboxMessage
from tocsin.core.outbox.queue import Outgoing, enqueue_many, enqueue_one

AT = datetime(2026, 11, 30, 23, 59, 59, 123456, tzinfo=timezone(timedelta(hours=7)))
ROW = {"at": AT, "actor": "ops", "action": "a.b", "object_type": "t", "object_id": "7"}


def audit_rows(db) -> list[tuple]:
    query = select(AuditEvent.at, AuditEvent.actor, AuditEvent.object_id, AuditEvent.detail)
    return [tuple(row) for row in db.execute(query.order_by(AuditEvent.id))]


def test_a_row_reads_back_as_sqlalchemy_would_have_stored_it(database: Database):
    detail = {"é": ["ü", 1, None, {"n": 2.5}], "quote": "'; DROP TABLE audit_event; --"}
    with database.session() as db:
        db.execute(insert(AUDIT_TABLE), ROW | {"detail": detail})
        Direct(insert(AUDIT_TABLE), [*ROW, "detail"]).run(db, ROW | {"detail": detail})
    with database.session() as db:
        first, second = audit_rows(db)
    assert first == second
    assert second[0] == AT and second[0].tzinfo is not None  # a UTC instant, read back aware
    assert second[3] == detail


def test_several_rows_in_one_call_and_returning_an_id(database: Database):
    statement = Direct(insert(AUDIT_TABLE).returning(AUDIT_TABLE.c.id), [*ROW, "detail"])
    with database.session() as db:
        Direct(insert(AUDIT_TABLE), [*ROW, "detail"]).run(db, [ROW | {"detail": {"n": n}} for n in range(3)])
        new_id = statement.scalar(db, ROW | {"detail": {"n": 3}})
    with database.session() as db:
        ids = list(db.scalars(select(AuditEvent.id).order_by(AuditEvent.id)))
        assert [row[3] for row in audit_rows(db)] == [{"n": n} for n in range(4)]
    assert new_id == ids[-1] and len(ids) == 4


def test_a_column_left_out_takes_its_python_default(database: Database):
    with database.session() as db:
        Direct(insert(AUDIT_TABLE), list(ROW)).run(db, ROW)  # detail: default=dict
    with database.session() as db:
        assert audit_rows(db)[0][3] == {}


def test_literals_of_the_statement_and_named_parameters_are_both_sent(database: Database):
    with database.session() as db:
        db.execute(insert(AUDIT_TABLE), [ROW | {"object_id": str(n), "detail": {}} for n in range(5)])
    query = select(func.count()).where(
        AuditEvent.actor == "ops", AuditEvent.object_id >= bindparam("low"), AuditEvent.action != "x"
    )
    with database.session() as db:
        assert Direct(query).scalar(db, {"low": "3"}) == 2
        assert Direct(select(AuditEvent.id).where(AuditEvent.actor == "nobody")).scalar(db, {}) is None


def test_a_missing_parameter_is_named(database: Database):
    statement = Direct(select(AuditEvent.id).where(AuditEvent.object_id == bindparam("wanted")))
    with database.session() as db, pytest.raises(KeyError, match="wanted"):
        statement.scalar(db, {})


def test_a_broken_constraint_is_sqlalchemys_integrity_error_and_nothing_stays(database: Database):
    """What the E-Intervention API's replay after a lost race catches; the whole transaction goes."""
    row = ROW | {"detail": {}}
    statement = Direct(insert(AUDIT_TABLE).returning(AUDIT_TABLE.c.id), [*row, "id"])
    with pytest.raises(exc.IntegrityError), database.session() as db:
        statement.scalar(db, row | {"id": 1})
        statement.scalar(db, row | {"id": 1})
    with database.session() as db:
        assert audit_rows(db) == []


def test_it_writes_in_the_sessions_transaction_after_pending_objects(database: Database):
    with pytest.raises(RuntimeError), database.session() as db:
        db.add(AuditEvent(**ROW, detail={"by": "orm"}))  # pending: flushed first, as an execute would
        Direct(insert(AUDIT_TABLE), [*ROW, "detail"]).run(db, ROW | {"detail": {"by": "direct"}})
        assert [row[3] for row in audit_rows(db)] == [{"by": "orm"}, {"by": "direct"}]
        raise RuntimeError("the request fails after its writes")
    with database.session() as db:
        assert audit_rows(db) == []


def test_text_statements_run_too(database: Database):
    statement = Direct(text("SELECT count(*) FROM audit_event WHERE actor = :actor"))
    with database.session() as db:
        db.execute(insert(AUDIT_TABLE), ROW | {"detail": {}})
        assert statement.scalar(db, {"actor": "ops"}) == 1


def test_outbox_rows_queued_directly_have_every_field(database: Database):
    now = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
    message = Outgoing(
        desk="d", kind="k", partner="P", url="http://x/y", payload={"a": "é"}, stream="s", schedule=[1, 2]
    )
    with database.session() as db:
        first = enqueue_one(db, message, now=now)
        enqueue_many(db, [message, message], now=now)
    with database.session() as db:
        rows = list(db.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))
    assert [row.id for row in rows][0] == first and len(rows) == 3
    for row in rows:
        assert (row.status, row.attempts, row.round_attempts, row.channel) == ("pending", 0, 0, "http")
        assert row.payload == {"a": "é"} and row.schedule == [1, 2] and row.next_attempt_at == now


@pytest.mark.only_sqlite
def test_sqlite_writes_join_the_processs_writer_queue(tmp_path):
    database = Database(f"sqlite:///{tmp_path / 'direct.db'}")
    with database.engine.begin() as connection:
        connection.execute(text("CREATE TABLE row (id INTEGER PRIMARY KEY, n INTEGER)"))
    statement = Direct(text("INSERT INTO row (n) VALUES (:n)"))
    second_writer_queues(
        database, lambda db: statement.run(db, {"n": 1}), lambda db: statement.run(db, {"n": 2})
    )
    with database.session() as db:
        assert db.execute(text("SELECT n FROM row ORDER BY n")).scalars().all() == [1, 2]
    database.engine.dispose()
