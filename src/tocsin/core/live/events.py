"""Live events: what changed, on a named topic, written in the caller's transaction and numbered in
the order the transactions committed, so a reader that resumes after number N misses nothing.

``publish`` keeps the event with the session; the rows are written when the transaction commits, in
its last step (after the final flush). On PostgreSQL that step takes a transaction-level advisory lock
before the rows take their numbers from the sequence and holds it through COMMIT, so a number is never
visible before a smaller one; it also queues ``pg_notify``, which PostgreSQL delivers at commit. SQLite
has one writer at a time, so its row ids already follow commit order; there the other processes are
told after the commit (``signals``). A transaction that rolls back (or a savepoint that does, for the
events published inside it) writes and tells nothing.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Index,
    Integer,
    String,
    delete,
    event,
    func,
    insert,
    select,
    text,
)
from sqlalchemy.orm import Mapped, Session, SessionTransaction, mapped_column

from tocsin.core.clock import utc_now
from tocsin.core.db import Base, Direct, JSONDoc, UTCDateTime, affected
from tocsin.core.errors import DomainError
from tocsin.core.live import signals

TOPIC = re.compile(r"^[a-z0-9][a-z0-9._-]{0,99}$")
MAX_DATA_BYTES = 4000
ORDER_LOCK = 0x746F6373696E  # "tocsin": the advisory lock that makes numbers follow commit order
PENDING = "tocsin.live.pending"  # session.info keys
TOLD = "tocsin.live.told"


class LiveEvent(Base):
    """One event; ``id`` is its number, in commit order (AUTOINCREMENT on SQLite: never reused)."""

    __tablename__ = "live_event"
    __table_args__ = (
        CheckConstraint("topic <> ''", name="topic_named"),
        Index("ix_live_event_topic_id", "topic", "id"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    topic: Mapped[str] = mapped_column(String(100))
    data: Mapped[dict[str, Any]] = mapped_column(JSONDoc)
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


def publish(db: Session, *, topic: str, data: dict[str, Any], now: datetime | None = None) -> None:
    """Add an event to the caller's transaction: written, numbered and told to every process when it
    commits, forgotten if it rolls back. The same topic and data twice in one transaction is one event."""
    if not TOPIC.match(topic):
        raise DomainError("a topic is 1 to 100 characters: a-z, 0-9, '.', '_' or '-'", field="topic")
    encoded = json.dumps(data, sort_keys=True)
    if len(encoded.encode()) > MAX_DATA_BYTES:
        raise DomainError(f"an event's data must fit in {MAX_DATA_BYTES} bytes of JSON", field="data")
    db.connection()  # begins the transaction the event belongs to
    pending: list[tuple[SessionTransaction, str, str, dict[str, Any], datetime]]
    pending = db.info.setdefault(PENDING, [])
    if any(t == topic and e == encoded for _, t, e, _, _ in pending):
        return
    current = db.get_nested_transaction() or db.get_transaction()
    assert current is not None
    pending.append((current, topic, encoded, data, now or utc_now()))


def last_number(db: Session) -> int:
    """The number of the newest committed event (0 when there is none)."""
    return db.scalar(select(func.max(LiveEvent.id))) or 0


def oldest_number(db: Session) -> int:
    """The number of the oldest event still kept (0 when there is none)."""
    return db.scalar(select(func.min(LiveEvent.id))) or 0


def events_after(
    db: Session,
    *,
    after: int,
    topics: Collection[str] | None = None,
    upto: int | None = None,
    limit: int = 500,
) -> list[LiveEvent]:
    """Events numbered above ``after`` (and up to ``upto``), of ``topics`` (None: all), oldest first."""
    query = select(LiveEvent).where(LiveEvent.id > after)
    if topics is not None:
        query = query.where(LiveEvent.topic.in_(list(topics)))
    if upto is not None:
        query = query.where(LiveEvent.id <= upto)
    return list(db.scalars(query.order_by(LiveEvent.id).limit(limit)))


def purge(db: Session, *, before: datetime) -> int:
    """Delete events published before ``before``; a client that asks for older ones is told to reload."""
    return affected(db.execute(delete(LiveEvent).where(LiveEvent.at < before)))


@event.listens_for(Session, "before_commit")
def _write(session: Session) -> None:
    """The transaction's last step: write its events, numbered in commit order, and queue the notify."""
    pending = session.info.pop(PENDING, None)
    if not pending:
        return
    session.flush()  # every row lock the transaction needs is taken before the ordering lock below
    connection = session.connection()
    topics = sorted({topic for _, topic, _, _, _ in pending})
    if connection.dialect.name != "postgresql":
        _INSERT.run(session, [{"topic": topic, "data": data, "at": at} for _, topic, _, data, at in pending])
        session.info[TOLD] = (connection.engine.url, topics)
        return
    values: dict[str, object] = {"key": ORDER_LOCK, "channel": signals.CHANNEL}
    values |= {f"topic{n}": topic for n, topic in enumerate(topics)}
    for n, (_, topic, encoded, _, at) in enumerate(pending):
        values |= {f"t{n}": topic, f"d{n}": encoded, f"a{n}": at}
    _ordered_insert(len(pending), len(topics)).run(session, values)


_INSERT = Direct(insert(LiveEvent), ["topic", "data", "at"])


@lru_cache(maxsize=256)
def _ordered_insert(rows: int, topics: int) -> Direct:
    """PostgreSQL, in one statement and one round trip: take the ordering lock and queue the
    notifications sent at commit, then insert the rows, which draw their numbers only once the lock is
    held (they cannot be made before the one-row ``ordered`` they are joined with)."""
    notices = "".join(f", pg_notify(:channel, :topic{n})" for n in range(topics))
    new = ", ".join(f"(:t{n}, CAST(:d{n} AS jsonb), :a{n})" for n in range(rows))
    return Direct(
        text(
            f"WITH ordered AS (SELECT pg_advisory_xact_lock(:key){notices}) "
            "INSERT INTO live_event (topic, data, at) SELECT new.topic, new.data, new.at "
            f"FROM ordered JOIN (VALUES {new}) AS new (topic, data, at) ON true"
        )
    )


@event.listens_for(Session, "after_commit")
def _tell(session: Session) -> None:
    """SQLite: once the events are visible, wake the processes listening on this database file."""
    told = session.info.pop(TOLD, None)
    if told is not None:
        signals.send(*told)


@event.listens_for(Session, "after_soft_rollback")
def _forget_rolled_back(session: Session, previous: SessionTransaction) -> None:
    """A savepoint rolled back takes the events published inside it; the whole transaction, all of them."""
    pending = session.info.get(PENDING)
    if not pending:
        return
    if not previous.nested:
        session.info.pop(PENDING, None)
        return
    session.info[PENDING] = [p for p in pending if not _within(p[0], previous)]


@event.listens_for(Session, "after_transaction_end")
def _forget_at_end(session: Session, transaction: SessionTransaction) -> None:
    """A session closed without commit or rollback leaves nothing for its next transaction."""
    if transaction.parent is None:
        session.info.pop(PENDING, None)
        session.info.pop(TOLD, None)


def _within(transaction: SessionTransaction | None, ancestor: SessionTransaction) -> bool:
    while transaction is not None:
        if transaction is ancestor:
            return True
        transaction = transaction.parent
    return False
