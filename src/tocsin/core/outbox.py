"""Durable delivery: a message is written in the same transaction as the change that causes it;
workers deliver it over HTTP, retry on network errors, 5xx and time-outs on a schedule, and record
every attempt and answer. Several workers share the work on PostgreSQL (FOR UPDATE SKIP LOCKED);
SQLite runs one.

Messages with the same ``stream`` are delivered one at a time, in the order they were written,
so an OC never receives an end (M4) before the start (M2) of the same intervention.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    and_,
    exists,
    select,
    update,
)
from sqlalchemy.orm import Mapped, Session, aliased, mapped_column

from tocsin.core.clock import Clock, utc_now
from tocsin.core.db import Base, Database, JSONDoc, UTCDateTime, affected

log = logging.getLogger(__name__)

PENDING, DELIVERED, REJECTED, FAILED, CLOSED = "pending", "delivered", "rejected", "failed", "closed"
STATUSES = (PENDING, DELIVERED, REJECTED, FAILED, CLOSED)
BigId = BigInteger().with_variant(Integer, "sqlite")


class OutboxMessage(Base):
    __tablename__ = "outbox_message"
    __table_args__ = (
        CheckConstraint(f"status IN {STATUSES!r}", name="status_known"),
        Index("ix_outbox_due", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    desk: Mapped[str] = mapped_column(String(40))
    kind: Mapped[str] = mapped_column(String(40))
    partner: Mapped[str] = mapped_column(String(40), index=True)
    url: Mapped[str] = mapped_column(String(500))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONDoc)
    stream: Mapped[str] = mapped_column(String(200), index=True)
    subject: Mapped[str] = mapped_column(String(200), index=True, default="")
    credential: Mapped[str | None] = mapped_column(String(80), nullable=True)
    on_result: Mapped[str | None] = mapped_column(String(80), nullable=True)
    schedule: Mapped[list[int] | None] = mapped_column(JSONDoc, nullable=True)
    status: Mapped[str] = mapped_column(String(20), default=PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    round_attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    lease_owner: Mapped[str | None] = mapped_column(String(80), nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_status_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    response: Mapped[dict[str, Any] | None] = mapped_column(JSONDoc, nullable=True)


class DeliveryAttempt(Base):
    __tablename__ = "delivery_attempt"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("outbox_message.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    worker: Mapped[str] = mapped_column(String(80))
    duration_ms: Mapped[int] = mapped_column(Integer)
    status_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    outcome: Mapped[str] = mapped_column(String(20))
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    body: Mapped[str | None] = mapped_column(Text, nullable=True)


class OutboundCredential(Base):
    """How we authenticate to a partner: an OAuth2 client-credentials grant at its token URL."""

    __tablename__ = "outbound_credential"

    name: Mapped[str] = mapped_column(String(80), primary_key=True)
    token_url: Mapped[str] = mapped_column(String(500))
    client_id: Mapped[str] = mapped_column(String(200))
    client_secret: Mapped[str] = mapped_column(String(500))
    scope: Mapped[str] = mapped_column(String(200), default="")


ResultHandler = Callable[[Session, OutboxMessage, str, Any], None]
_handlers: dict[str, ResultHandler] = {}


def on_result(name: str) -> Callable[[ResultHandler], ResultHandler]:
    """Register a desk function called (in the recording transaction) when a message gets an answer."""

    def register(fn: ResultHandler) -> ResultHandler:
        _handlers[name] = fn
        return fn

    return register


def enqueue(
    db: Session,
    *,
    desk: str,
    kind: str,
    partner: str,
    url: str,
    payload: dict[str, Any],
    stream: str,
    now: datetime,
    subject: str = "",
    credential: str | None = None,
    on_result: str | None = None,
    schedule: list[int] | None = None,
) -> OutboxMessage:
    """Add a message to the outbox inside the caller's transaction (``schedule``: retry delays in s)."""
    message = OutboxMessage(
        desk=desk,
        kind=kind,
        partner=partner,
        url=url,
        payload=payload,
        stream=stream,
        subject=subject,
        credential=credential,
        on_result=on_result,
        schedule=schedule,
        status=PENDING,
        attempts=0,
        round_attempts=0,
        created_at=now,
        next_attempt_at=now,
    )
    db.add(message)
    return message


@dataclass
class Answer:
    """What one HTTP attempt produced."""

    status_code: int | None
    body: str | None
    error: str | None
    duration_ms: int

    @property
    def json(self) -> Any:
        try:
            return json.loads(self.body) if self.body else None
        except ValueError:
            return None


def classify(answer: Answer) -> str:
    """delivered (2xx), rejected (a functional answer: 4xx but 401/408/429), or retry."""
    code = answer.status_code
    if code is None or code >= 500 or code in (401, 408, 429):
        return "retry"
    if 200 <= code < 300:
        return DELIVERED
    return REJECTED


class TokenSource:
    """Bearer tokens for outbound calls, fetched with client credentials and kept until near expiry."""

    def __init__(self, http: httpx.Client) -> None:
        self.http = http
        self._tokens: dict[str, tuple[str, float]] = {}
        self._lock = threading.Lock()
        self._fetching = threading.Lock()

    def header(self, credential: OutboundCredential | None) -> dict[str, str]:
        if credential is None:
            return {}
        with self._fetching:  # one fetch per credential even when many deliveries start together
            with self._lock:
                cached = self._tokens.get(credential.name)
            if not cached or cached[1] <= time.monotonic():
                cached = self._fetch(credential)
        return {"Authorization": f"Bearer {cached[0]}"}

    def _fetch(self, credential: OutboundCredential) -> tuple[str, float]:
        data = {"grant_type": "client_credentials"}
        if credential.scope:
            data["scope"] = credential.scope
        reply = self.http.post(
            credential.token_url, data=data, auth=(credential.client_id, credential.client_secret)
        )
        reply.raise_for_status()
        body = reply.json()
        life = float(body.get("expires_in", 300))
        token = (str(body["access_token"]), time.monotonic() + max(life - 30, life / 2))
        with self._lock:
            self._tokens[credential.name] = token
        return token

    def forget(self, name: str | None) -> None:
        with self._lock:
            self._tokens.pop(name or "", None)


class Worker:
    """Claims due messages, delivers them concurrently, records each attempt."""

    def __init__(
        self,
        database: Database,
        *,
        schedule: Iterable[int],
        name: str,
        clock: Clock = utc_now,
        timeout: float = 10.0,
        batch: int = 50,
        lease_seconds: int = 60,
        http: httpx.Client | None = None,
    ) -> None:
        self.database = database
        self.schedule = list(schedule)
        self.name = name
        self.clock = clock
        self.batch = batch
        self.lease = timedelta(seconds=max(lease_seconds, int(2 * timeout) + 1))  # outlives a delivery
        self.http = http or httpx.Client(timeout=timeout, limits=httpx.Limits(max_connections=64))
        self.tokens = TokenSource(self.http)
        self.pool = ThreadPoolExecutor(max_workers=16, thread_name_prefix="deliver")
        self.stopping = threading.Event()

    def claim(self, limit: int | None = None) -> list[OutboxMessage]:
        """Lease up to ``limit`` (default ``batch``) due messages, at most one per stream, held by no one."""
        now = self.clock()
        earlier = aliased(OutboxMessage)
        blocked = exists().where(
            and_(
                earlier.stream == OutboxMessage.stream,
                earlier.id < OutboxMessage.id,
                earlier.status == PENDING,
            )
        )
        free = (OutboxMessage.lease_until.is_(None)) | (OutboxMessage.lease_until < now)
        due = and_(OutboxMessage.status == PENDING, OutboxMessage.next_attempt_at <= now, free)
        with self.database.session() as db:
            ids = list(
                db.scalars(
                    select(OutboxMessage.id)
                    .where(due, ~blocked)
                    .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
                    .limit(limit or self.batch)
                    .with_for_update(skip_locked=True)
                )
            )
            if not ids:
                return []
            db.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id.in_(ids), due)
                .values(lease_until=now + self.lease, lease_owner=self.name)
                .execution_options(synchronize_session=False)
            )
        with self.database.session() as db:
            rows = db.scalars(
                select(OutboxMessage).where(OutboxMessage.id.in_(ids), OutboxMessage.lease_owner == self.name)
            )
            claimed = list(rows)
            credentials = {c.name: c for c in db.scalars(select(OutboundCredential))}
        self._credentials = credentials
        return claimed

    def run_once(self) -> int:
        """Claim and deliver one batch; returns how many messages were attempted."""
        claimed = self.claim()
        if claimed:
            list(self.pool.map(self.deliver, claimed))
        return len(claimed)

    def run(self, *, idle_sleep: float = 0.05, stop_when_idle: bool = False) -> None:
        """Loop until stopped (or, for tests and the demo, until nothing is due).

        Deliveries run in the thread pool while the loop claims more as soon as there is room, so one
        slow partner does not hold up the messages behind it.
        """
        inflight: set[Future[None]] = set()
        while not self.stopping.is_set():
            room = self.batch - len(inflight)
            claimed = self._claim_safely(room) if room > 0 else []
            inflight |= {self.pool.submit(self.deliver, message) for message in claimed}
            if not claimed:
                if not inflight and stop_when_idle:
                    return
                if inflight:
                    wait(inflight, timeout=idle_sleep, return_when=FIRST_COMPLETED)
                else:
                    self.stopping.wait(idle_sleep)
            inflight = {future for future in inflight if not future.done()}
        wait(inflight)

    def _claim_safely(self, limit: int) -> list[OutboxMessage]:
        try:
            return self.claim(limit)
        except Exception:  # the loop must survive a database hiccup
            log.exception("outbox worker could not claim messages")
            self.stopping.wait(1.0)
            return []

    def deliver(self, message: OutboxMessage) -> None:
        """Send one message and record the answer."""
        answer = self.post(message)
        try:
            self.record(message, answer)
        except Exception:
            log.exception("could not record delivery of message %s", message.id)

    def post(self, message: OutboxMessage) -> Answer:
        started = time.perf_counter()
        try:
            headers = self.tokens.header(self._credentials.get(message.credential or ""))
            headers["Idempotency-Key"] = f"tocsin-{message.id}"
            reply = self.http.post(message.url, json=message.payload, headers=headers)
            body = reply.text[:4000]
            answer = Answer(reply.status_code, body, None, _ms(started))
            if reply.status_code == 401:
                self.tokens.forget(message.credential)
            return answer
        except (httpx.HTTPError, ValueError, KeyError) as error:
            return Answer(None, None, f"{type(error).__name__}: {error}"[:1000], _ms(started))

    def record(self, message: OutboxMessage, answer: Answer) -> None:
        """Store the attempt and move the message on, only if this worker still holds the lease."""
        now = self.clock()
        outcome = classify(answer)
        with self.database.session() as db:
            current = db.get(OutboxMessage, message.id, with_for_update=True)
            if current is None or current.lease_owner != self.name or current.status != PENDING:
                return
            current.attempts += 1
            current.round_attempts += 1
            current.last_status_code = answer.status_code
            current.last_error = answer.error
            current.response = answer.json if isinstance(answer.json, dict) else None
            current.lease_until, current.lease_owner = None, None
            if outcome == "retry":
                schedule = self.schedule if current.schedule is None else current.schedule
                retries_used = current.round_attempts - 1
                if retries_used >= len(schedule):
                    outcome = FAILED
                    current.status, current.finished_at = FAILED, now
                else:
                    current.next_attempt_at = now + timedelta(seconds=schedule[retries_used])
            else:
                current.status, current.finished_at = outcome, now
            db.add(
                DeliveryAttempt(
                    message_id=current.id,
                    at=now,
                    worker=self.name,
                    duration_ms=answer.duration_ms,
                    status_code=answer.status_code,
                    outcome=outcome,
                    error=answer.error,
                    body=answer.body,
                )
            )
            handler = _handlers.get(current.on_result or "")
            if handler is not None and outcome in (DELIVERED, REJECTED, FAILED):
                handler(db, current, outcome, answer.json)

    def close(self) -> None:
        self.stopping.set()
        self.pool.shutdown(wait=True)
        self.http.close()


def _ms(started: float) -> int:
    return int((time.perf_counter() - started) * 1000)


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
    query = select(OutboxMessage).where(OutboxMessage.status.in_(statuses))
    if partner:
        query = query.where(OutboxMessage.partner == partner)
    if since:
        query = query.where(OutboxMessage.created_at >= since)
    if until:
        query = query.where(OutboxMessage.created_at < until)
    if ids is not None:
        query = query.where(OutboxMessage.id.in_(list(ids)))
    messages = list(db.scalars(query.with_for_update()))
    for message in messages:
        message.status, message.round_attempts = PENDING, 0
        message.next_attempt_at, message.finished_at = now, None
        message.lease_until, message.lease_owner = None, None
    return messages


def attempts_of(db: Session, message_id: int) -> list[DeliveryAttempt]:
    """Every attempt made for a message, oldest first."""
    query = (
        select(DeliveryAttempt).where(DeliveryAttempt.message_id == message_id).order_by(DeliveryAttempt.id)
    )
    return list(db.scalars(query))


def purge(db: Session, *, desk: str, before: datetime) -> int:
    """Delete finished messages of a desk created before ``before`` (retention); returns how many."""
    from sqlalchemy import delete

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


def set_credential(
    db: Session, *, name: str, token_url: str, client_id: str, client_secret: str, scope: str = ""
) -> None:
    """Create or replace outbound credentials for a partner."""
    row = db.get(OutboundCredential, name) or OutboundCredential(name=name)
    row.token_url, row.client_id, row.client_secret, row.scope = token_url, client_id, client_secret, scope
    db.add(row)
