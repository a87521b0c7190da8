"""Writing to the outbox and tending it: enqueue in the caller's transaction, result handlers, retry by
hand, attempts, retention and the credentials we present to partners."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Select, Table, delete, insert, select, update
from sqlalchemy.orm import Session

from tocsin.core import live
from tocsin.core.db import Direct, affected
from tocsin.core.outbox.models import (
    CHANNELS,
    CLOSED,
    DELIVERED,
    FAILED,
    HTTP,
    PENDING,
    REJECTED,
    RETRY,
    DeliveryAttempt,
    OutboundCredential,
    OutboxMessage,
    WorkerHeartbeat,
)

ResultHandler = Callable[[Session, OutboxMessage, str, Any], None]


@dataclass(frozen=True)
class _Handler:
    fn: ResultHandler
    every_attempt: bool


_handlers: dict[str, _Handler] = {}


def on_result(name: str, *, every_attempt: bool = False) -> Callable[[ResultHandler], ResultHandler]:
    """Register a desk function called (in the recording transaction) when a message gets an answer.

    It gets the outcome: delivered, rejected, failed, or technical (our own set-up failed; the message's
    status is then failed); with ``every_attempt`` also retry, after each attempt that will be retried.
    """

    def register(fn: ResultHandler) -> ResultHandler:
        _handlers[name] = _Handler(fn, every_attempt)
        return fn

    return register


def handler_for(name: str | None, outcome: str) -> ResultHandler | None:
    """The handler registered as ``name`` if it wants to hear of this outcome."""
    handler = _handlers.get(name or "")
    if handler is None or (outcome == RETRY and not handler.every_attempt):
        return None
    return handler.fn


QUEUED_TOPIC = "outbox"  # live topic of "messages were queued": it wakes the workers


@dataclass(frozen=True)
class Outgoing:
    """One message to queue. ``partner`` is whom the worker shares its threads by: a partner's code over
    HTTP, the gateway of another channel (``smtp``, ``sms``, ``push:<host>``); ``schedule``: retry delays
    in seconds (None: the worker's default)."""

    desk: str
    kind: str
    partner: str
    url: str
    payload: dict[str, Any]
    stream: str
    subject: str = ""
    credential: str | None = None
    on_result: str | None = None
    schedule: list[int] | None = None
    channel: str = HTTP

    def __post_init__(self) -> None:
        if self.channel not in CHANNELS:
            raise ValueError(f"channel: unknown channel {self.channel!r}; known: {list(CHANNELS)}")

    def row(self, now: datetime) -> dict[str, Any]:
        return vars(self) | {"created_at": now, "next_attempt_at": now} | _NEW


def enqueue(db: Session, *, now: datetime, **fields: Any) -> int:
    """Add a message (the fields of ``Outgoing``) to the outbox inside the caller's transaction and
    answer its id; the commit wakes the workers."""
    return enqueue_one(db, Outgoing(**fields), now=now)


def enqueue_one(db: Session, message: Outgoing, *, now: datetime) -> int:
    """``enqueue`` for a message already made."""
    message_id = _INSERT_ONE.scalar(db, message.row(now))
    live.publish(db, topic=QUEUED_TOPIC, data={"desk": message.desk}, now=now)
    return int(message_id)


def enqueue_many(db: Session, messages: list[Outgoing], *, now: datetime) -> None:
    """Add several messages in one round trip (a fan-out); the commit wakes the workers."""
    if not messages:
        return
    _INSERT.run(db, [message.row(now) for message in messages])
    for desk in sorted({message.desk for message in messages}):
        live.publish(db, topic=QUEUED_TOPIC, data={"desk": desk}, now=now)


# Plain INSERTs, not objects for the session's next flush: every desk's hot path queues messages, the
# ORM's unit of work costs several times the statement, and it batches a fan-out's rows into one
# statement with too many parameters for the driver to cache its parsing (an executemany sends one
# prepared statement per row, in one round trip).
_TABLE = cast(Table, OutboxMessage.__table__)
_NEW = {"status": PENDING, "attempts": 0, "round_attempts": 0}
_COLUMNS = [*(f.name for f in fields(Outgoing)), "created_at", "next_attempt_at", *_NEW]
_INSERT = Direct(insert(_TABLE), _COLUMNS)
_INSERT_ONE = Direct(insert(_TABLE).returning(_TABLE.c.id), _COLUMNS)


def purge_heartbeats(db: Session, *, before: datetime) -> int:
    """Forget workers silent since ``before`` (their leases were free long ago)."""
    return affected(db.execute(delete(WorkerHeartbeat).where(WorkerHeartbeat.seen_at < before)))


def chosen(
    statuses: tuple[str, ...],
    *,
    desk: str | None = None,
    partner: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    ids: Iterable[int] | None = None,
) -> Select[OutboxMessage]:
    """Messages in ``statuses``, of ``desk`` and to ``partner`` (if given), created in [since, until), with
    one of ``ids`` (if given)."""
    query = select(OutboxMessage).where(OutboxMessage.status.in_(statuses))
    if desk:
        query = query.where(OutboxMessage.desk == desk)
    if partner:
        query = query.where(OutboxMessage.partner == partner)
    if since:
        query = query.where(OutboxMessage.created_at >= since)
    if until:
        query = query.where(OutboxMessage.created_at < until)
    if ids is not None:
        query = query.where(OutboxMessage.id.in_(list(ids)))
    return query


def retry_by_hand(
    db: Session,
    *,
    now: datetime,
    partner: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    ids: Iterable[int] | None = None,
    statuses: tuple[str, ...] = (FAILED,),
) -> list[OutboxMessage]:
    """Put failed messages back in the queue (a fresh retry round), chosen by partner, period or id."""
    query = chosen(statuses, partner=partner, since=since, until=until, ids=ids)
    messages = list(db.scalars(query.with_for_update()))
    for message in messages:
        message.status, message.round_attempts = PENDING, 0
        message.next_attempt_at, message.finished_at = now, None
        message.lease_until, message.lease_owner = None, None
    for desk in sorted({m.desk for m in messages}):
        live.publish(db, topic=QUEUED_TOPIC, data={"desk": desk}, now=now)
    return messages


def send_now(db: Session, *, now: datetime, ids: Iterable[int]) -> int:
    """Bring the next attempt of pending messages forward to ``now`` (the retry round goes on); one out
    on delivery keeps its lease. Returns how many were brought forward."""
    waiting = (
        update(OutboxMessage)
        .where(
            OutboxMessage.id.in_(list(ids)),
            OutboxMessage.status == PENDING,
            OutboxMessage.next_attempt_at > now,
            OutboxMessage.lease_owner.is_(None),
        )
        .values(next_attempt_at=now)
        .returning(OutboxMessage.desk)
        .execution_options(synchronize_session=False)
    )
    desks = list(db.scalars(waiting))
    for desk in sorted(set(desks)):
        live.publish(db, topic=QUEUED_TOPIC, data={"desk": desk}, now=now)
    return len(desks)


def attempts_of(db: Session, message_id: int) -> list[DeliveryAttempt]:
    """Every attempt made for a message, oldest first."""
    query = (
        select(DeliveryAttempt).where(DeliveryAttempt.message_id == message_id).order_by(DeliveryAttempt.id)
    )
    return list(db.scalars(query))


def purge(db: Session, *, desk: str, before: datetime) -> int:
    """Delete finished messages of a desk created before ``before`` (retention); returns how many."""
    finished = (DELIVERED, REJECTED, FAILED, CLOSED)
    ids = select(OutboxMessage.id).where(
        OutboxMessage.desk == desk, OutboxMessage.created_at < before, OutboxMessage.status.in_(finished)
    )
    db.execute(delete(DeliveryAttempt).where(DeliveryAttempt.message_id.in_(ids)))
    result = db.execute(
        delete(OutboxMessage).where(
            OutboxMessage.desk == desk, OutboxMessage.created_at < before, OutboxMessage.status.in_(finished)
        )
    )
    return affected(result)


def drop_credentials(db: Session, *, prefix: str, keep: Iterable[str]) -> None:
    """Delete the outbound credentials named ``prefix…`` that are not in ``keep``."""
    db.execute(
        delete(OutboundCredential).where(
            OutboundCredential.name.startswith(prefix, autoescape=True),
            OutboundCredential.name.not_in(list(keep)),
        )
    )


def set_credential(
    db: Session, *, name: str, token_url: str, client_id: str, client_secret: str, scope: str = ""
) -> None:
    """Create or replace outbound credentials for a partner."""
    row = db.get(OutboundCredential, name) or OutboundCredential(name=name)
    row.token_url, row.client_id, row.client_secret, row.scope = token_url, client_id, client_secret, scope
    db.add(row)
