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
import secrets
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
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
    delete,
    exists,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.orm import Mapped, Session, aliased, mapped_column

from tocsin.core import live
from tocsin.core.clock import Clock, utc_now
from tocsin.core.db import Base, Database, JSONDoc, UTCDateTime, affected

log = logging.getLogger(__name__)

PENDING, DELIVERED, REJECTED, FAILED, CLOSED = "pending", "delivered", "rejected", "failed", "closed"
QUEUED_TOPIC = "outbox"  # live topic of "messages were queued": it wakes the workers
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


class WorkerHeartbeat(Base):
    """A running worker says it is alive every few seconds; the leases of a silent one are free at once,
    rather than at the end of their lease."""

    __tablename__ = "worker_heartbeat"

    owner: Mapped[str] = mapped_column(String(80), primary_key=True)
    name: Mapped[str] = mapped_column(String(80))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


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
    """Add a message to the outbox inside the caller's transaction (``schedule``: retry delays in s);
    its commit wakes the workers."""
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
    live.publish(db, topic=QUEUED_TOPIC, data={"desk": desk}, now=now)
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


class TokenUnavailable(Exception):
    """No bearer token for a partner right now (its token endpoint failed, recently or just now)."""


class TokenSource:
    """Bearer tokens for outbound calls, fetched with client credentials and kept until near expiry.

    Each credential has its own lock, so a partner whose token endpoint hangs holds up only its own
    deliveries; after a failed fetch the credential cools down for ``cool_down`` seconds, during which
    its deliveries fail at once (and are retried on their schedule) instead of queueing on the lock.
    """

    def __init__(self, http: httpx.Client, cool_down: float = 15.0) -> None:
        self.http, self.cool_down = http, cool_down
        self._tokens: dict[str, tuple[str, float]] = {}
        self._failures: dict[str, tuple[float, str]] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._lock = threading.Lock()

    def header(self, credential: OutboundCredential | None) -> dict[str, str]:
        if credential is None:
            return {}
        token = self._ready(credential.name)
        if token is None:
            with self._lock_for(credential.name):  # one fetch per credential when many start together
                token = self._ready(credential.name) or self._fetch(credential)
        return {"Authorization": f"Bearer {token}"}

    def _ready(self, name: str) -> str | None:
        """A cached token, or None; raises TokenUnavailable while the credential cools down."""
        now = time.monotonic()
        with self._lock:
            cached, failure = self._tokens.get(name), self._failures.get(name)
        if cached and cached[1] > now:
            return cached[0]
        if failure and failure[0] > now:
            raise TokenUnavailable(failure[1])
        return None

    def _lock_for(self, name: str) -> threading.Lock:
        with self._lock:
            return self._locks.setdefault(name, threading.Lock())

    def _fetch(self, credential: OutboundCredential) -> str:
        data = {"grant_type": "client_credentials"}
        if credential.scope:
            data["scope"] = credential.scope
        try:
            reply = self.http.post(
                credential.token_url, data=data, auth=(credential.client_id, credential.client_secret)
            )
            reply.raise_for_status()
            body = reply.json()
            token, life = str(body["access_token"]), float(body.get("expires_in", 300))
        except (httpx.HTTPError, ValueError, KeyError, TypeError) as error:
            reason = f"token endpoint of {credential.name}: {type(error).__name__}: {error}"[:500]
            with self._lock:
                self._failures[credential.name] = (time.monotonic() + self.cool_down, reason)
            raise TokenUnavailable(reason) from None
        with self._lock:
            self._tokens[credential.name] = (token, time.monotonic() + max(life - 30, life / 2))
            self._failures.pop(credential.name, None)
        return token

    def forget(self, name: str | None) -> None:
        with self._lock:
            self._tokens.pop(name or "", None)


class Worker:
    """Claims due messages, delivers them concurrently, records each attempt.

    Leases carry this worker's own ``owner`` id (its name and a random suffix), renewed by a heartbeat
    every ``HEARTBEAT_EVERY`` seconds. A worker killed mid-delivery stops beating; after ``STALE_AFTER``
    seconds its leases are free to the others, instead of after the whole lease.
    """

    HEARTBEAT_EVERY = 2.0
    STALE_AFTER = 10.0

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
        per_partner: int = 16,
        http: httpx.Client | None = None,
    ) -> None:
        self.database = database
        self.schedule = list(schedule)
        self.name = name[:60]
        self.owner = f"{self.name}:{secrets.token_hex(4)}"
        self.clock = clock
        self.batch = batch
        self.per_partner = per_partner
        self.lease = timedelta(seconds=max(lease_seconds, int(2 * timeout) + 1))  # outlives a delivery
        self.http = http or httpx.Client(timeout=timeout, limits=httpx.Limits(max_connections=64))
        self.tokens = TokenSource(self.http)
        self.pool = ThreadPoolExecutor(max_workers=batch, thread_name_prefix="deliver")
        self.stopping = threading.Event()
        self._credentials: dict[str, OutboundCredential] = {}
        self._beaten_at = -float("inf")

    def beat(self, *, force: bool = False) -> None:
        """Tell the other workers this one is alive (at most every HEARTBEAT_EVERY seconds)."""
        if not force and time.monotonic() - self._beaten_at < self.HEARTBEAT_EVERY:
            return
        now = self.clock()
        with self.database.session() as db:
            row = db.get(WorkerHeartbeat, self.owner)
            if row is None:
                db.add(WorkerHeartbeat(owner=self.owner, name=self.name, started_at=now, seen_at=now))
            else:
                row.seen_at = now
        self._beaten_at = time.monotonic()

    def claim(
        self, limit: int | None = None, inflight: Mapping[str, int] | None = None
    ) -> list[OutboxMessage]:
        """Lease up to ``limit`` (default ``batch``) due messages held by no live worker: at most one per
        stream, and per partner no more than ``per_partner`` minus what it has ``inflight`` already,
        partners taken in the order of their oldest due message."""
        self.beat()
        now = self.clock()
        limit, inflight = limit or self.batch, inflight or {}
        due = self._due(now)
        with self.database.session() as db:
            waiting = db.execute(
                select(OutboxMessage.partner)
                .where(due)
                .group_by(OutboxMessage.partner)
                .order_by(func.min(OutboxMessage.next_attempt_at))
            )
            ids: list[int] = []
            for (partner,) in waiting.all():
                room = min(limit - len(ids), self.per_partner - inflight.get(partner, 0))
                if room > 0:
                    ids += self._lock_due(db, due, partner, room)
            if not ids:
                return []
            db.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id.in_(ids), due)
                .values(lease_until=now + self.lease, lease_owner=self.owner)
                .execution_options(synchronize_session=False)
            )
        with self.database.session() as db:
            rows = db.scalars(
                select(OutboxMessage).where(
                    OutboxMessage.id.in_(ids), OutboxMessage.lease_owner == self.owner
                )
            )
            claimed = list(rows)
            self._credentials = {c.name: c for c in db.scalars(select(OutboundCredential))}
        return claimed

    def _due(self, now: datetime) -> Any:
        """Pending, due, and not leased by a live worker (an expired lease, or a silent owner)."""
        silent = select(WorkerHeartbeat.owner).where(
            WorkerHeartbeat.seen_at < now - timedelta(seconds=self.STALE_AFTER)
        )
        free = or_(
            OutboxMessage.lease_until.is_(None),
            OutboxMessage.lease_until < now,
            OutboxMessage.lease_owner.in_(silent),
        )
        return and_(OutboxMessage.status == PENDING, OutboxMessage.next_attempt_at <= now, free)

    @staticmethod
    def _lock_due(db: Session, due: Any, partner: str, room: int) -> list[int]:
        """Lock up to ``room`` due messages of one partner, the first of their streams only."""
        earlier = aliased(OutboxMessage)
        blocked = exists().where(
            and_(
                earlier.stream == OutboxMessage.stream,
                earlier.id < OutboxMessage.id,
                earlier.status == PENDING,
            )
        )
        query = (
            select(OutboxMessage.id)
            .where(due, OutboxMessage.partner == partner, ~blocked)
            .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
            .limit(room)
            .with_for_update(skip_locked=True)
        )
        return list(db.scalars(query))

    def run_once(self) -> int:
        """Claim and deliver one batch; returns how many messages were attempted."""
        claimed = self.claim()
        if claimed:
            list(self.pool.map(self.deliver, claimed))
        return len(claimed)

    def run(
        self, *, idle_sleep: float = 0.05, stop_when_idle: bool = False, woken: threading.Event | None = None
    ) -> None:
        """Loop until stopped (or, for tests and the demo, until nothing is due).

        Deliveries run in the thread pool while the loop claims more as soon as there is room; no
        partner may hold more than ``per_partner`` of the pool, so one slow partner cannot hold up the
        others' messages.

        ``woken``: an event someone sets when messages are queued (``tocsin.jobs`` sets it from the
        live signal of ``enqueue``). The idle loop then waits for it (or for a delivery to end) instead
        of sleeping, and still claims every ``idle_sleep`` seconds: retries come due by time, and a
        signal may be lost. It is cleared before each claim, so a signal during a claim is not missed.
        """
        inflight: dict[Future[None], str] = {}
        heart = threading.Thread(target=self._keep_beating, name="heartbeat", daemon=True)
        heart.start()
        while not self.stopping.is_set():
            if woken is not None:
                woken.clear()
            room = self.batch - len(inflight)
            claimed = self._claim_safely(room, Counter(inflight.values())) if room > 0 else []
            for message in claimed:
                future = self.pool.submit(self.deliver, message)
                inflight[future] = message.partner
                if woken is not None:
                    future.add_done_callback(lambda _: woken.set())
            if not claimed:
                if not inflight and stop_when_idle:
                    break
                if woken is not None:
                    woken.wait(idle_sleep)
                elif inflight:
                    wait(list(inflight), timeout=idle_sleep, return_when=FIRST_COMPLETED)
                else:
                    self.stopping.wait(idle_sleep)
            inflight = {f: p for f, p in inflight.items() if not f.done()}
        wait(list(inflight))

    def _keep_beating(self) -> None:
        while not self.stopping.wait(self.HEARTBEAT_EVERY):
            try:
                self.beat(force=True)
            except Exception as error:  # the database may be away for a moment; the loop says so too
                log.warning("worker %s could not renew its heartbeat: %s", self.name, error)

    def _claim_safely(self, limit: int, inflight: Mapping[str, int]) -> list[OutboxMessage]:
        try:
            return self.claim(limit, inflight)
        except Exception as error:  # the loop must survive a database hiccup
            log.warning("outbox worker could not claim messages: %s: %s", type(error).__name__, error)
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
        except TokenUnavailable as error:
            return Answer(None, None, str(error)[:1000], _ms(started))
        except (httpx.HTTPError, ValueError, KeyError) as error:
            return Answer(None, None, f"{type(error).__name__}: {error}"[:1000], _ms(started))

    def record(self, message: OutboxMessage, answer: Answer) -> None:
        """Store the attempt and move the message on, only if this worker still holds the lease."""
        now = self.clock()
        outcome = classify(answer)
        with self.database.session() as db:
            current = db.get(OutboxMessage, message.id, with_for_update=True)
            if current is None or current.lease_owner != self.owner or current.status != PENDING:
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
            live.publish(db, topic=f"outbox.{current.desk}", data={"message": current.id}, now=now)

    def close(self) -> None:
        """Stop, let deliveries finish, and say goodbye so no one waits for this worker's leases."""
        self.stopping.set()
        self.pool.shutdown(wait=True)
        self.http.close()
        try:
            with self.database.session() as db:
                db.execute(delete(WorkerHeartbeat).where(WorkerHeartbeat.owner == self.owner))
                db.execute(
                    update(OutboxMessage)
                    .where(OutboxMessage.lease_owner == self.owner, OutboxMessage.status == PENDING)
                    .values(lease_until=None, lease_owner=None)
                )
        except Exception as error:
            log.warning("worker %s could not release its leases: %s", self.name, error)


def purge_heartbeats(db: Session, *, before: datetime) -> int:
    """Forget workers silent since ``before`` (their leases were free long ago)."""
    return affected(db.execute(delete(WorkerHeartbeat).where(WorkerHeartbeat.seen_at < before)))


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
