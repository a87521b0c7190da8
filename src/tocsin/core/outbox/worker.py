"""The outbox worker: claims due messages with leases and heartbeats, delivers them concurrently through
each channel's transport, records every attempt, and retries on the message's schedule.

Several workers share the work on PostgreSQL (FOR UPDATE SKIP LOCKED); SQLite runs one. Messages with
the same ``stream`` are delivered one at a time, in the order they were written, so an OC never receives
an end (M4) before the start (M2) of the same intervention.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import and_, delete, exists, func, or_, select, update
from sqlalchemy.orm import Session, aliased

from tocsin.core import live
from tocsin.core.clock import Clock, utc_now
from tocsin.core.db import Database
from tocsin.core.outbox.models import (
    FAILED,
    HTTP,
    PENDING,
    RETRY,
    SHARED_CHANNELS,
    TECHNICAL,
    DeliveryAttempt,
    OutboundCredential,
    OutboxMessage,
    WorkerHeartbeat,
)
from tocsin.core.outbox.queue import handler_for
from tocsin.core.outbox.transports import Answer, HttpTransport, Missing, Transport, classify

log = logging.getLogger("tocsin.core.outbox")


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
        transports: Mapping[str, Transport] | None = None,
        channels: Collection[str] = SHARED_CHANNELS,
        partners: Callable[[], Collection[str]] | None = None,
    ) -> None:
        """``channels``: what this worker claims (a desk's own link is claimed only by the worker of the
        process holding it); ``partners``: if given, asked at each claim for the only partners this worker
        may claim for (a process owning some sites of a desk)."""
        self.database = database
        self.channels = tuple(channels)
        self.partners = partners
        self.schedule = list(schedule)
        self.name = name[:60]
        self.owner = f"{self.name}:{secrets.token_hex(4)}"
        self.clock = clock
        self.batch = batch
        self.per_partner = per_partner
        self.lease = timedelta(seconds=max(lease_seconds, int(2 * timeout) + 1))  # outlives a delivery
        self.http = http or httpx.Client(timeout=timeout, limits=httpx.Limits(max_connections=64))
        self.web = HttpTransport(self.http)
        self.tokens = self.web.tokens
        self.transports: dict[str, Transport] = {**(transports or {}), HTTP: self.web}
        self.pool = ThreadPoolExecutor(max_workers=batch, thread_name_prefix="deliver")
        self.stopping = threading.Event()
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
            self.web.credentials = {c.name: c for c in db.scalars(select(OutboundCredential))}
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
        mine: Any = OutboxMessage.channel.in_(self.channels)
        if self.partners is not None:
            mine = and_(mine, OutboxMessage.partner.in_(list(self.partners())))
        return and_(OutboxMessage.status == PENDING, OutboxMessage.next_attempt_at <= now, free, mine)

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
        """One attempt through the message's channel (a channel with no transport: technical failure)."""
        transport = self.transports.get(message.channel) or Missing(message.channel, "its gateway")
        return transport.send(message)

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
            if outcome == RETRY:
                schedule = self.schedule if current.schedule is None else current.schedule
                retries_used = current.round_attempts - 1
                if retries_used >= len(schedule):
                    outcome = FAILED
                    current.status, current.finished_at = FAILED, now
                else:
                    current.next_attempt_at = now + timedelta(seconds=schedule[retries_used])
            else:  # delivered, rejected, or technical: our set-up will not mend itself on a schedule
                current.status, current.finished_at = (FAILED if outcome == TECHNICAL else outcome), now
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
            handler = handler_for(current.on_result, outcome)
            if handler is not None:
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
