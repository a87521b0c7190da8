"""The outbox's tables: messages with their channel, every delivery attempt, worker heartbeats and the
credentials we present to partners."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from tocsin.core.db import Base, JSONDoc, UTCDateTime


class Status(StrEnum):
    """Where a message stands."""

    PENDING = "pending"
    DELIVERED = "delivered"
    REJECTED = "rejected"
    FAILED = "failed"
    CLOSED = "closed"


class Channel(StrEnum):
    HTTP = "http"
    EMAIL = "email"
    SMS = "sms"
    PUSH = "push"
    RADIO = "radio"  # a device on a desk's own radio network, sent by the process holding the link


PENDING, DELIVERED, REJECTED, FAILED, CLOSED = Status
STATUSES = tuple(status.value for status in Status)
# What one attempt concluded: RETRY (worth another try on the schedule) and TECHNICAL (our own set-up
# failed, e.g. a channel with no gateway configured: the message fails at once) join the final ones.
RETRY, TECHNICAL = "retry", "technical"
HTTP, EMAIL, SMS, PUSH, RADIO = Channel
CHANNELS = tuple(channel.value for channel in Channel)
# What any process's worker can send; a desk's own link (radio) is claimed only by the worker its
# process runs with that link.
SHARED_CHANNELS = (HTTP.value, EMAIL.value, SMS.value, PUSH.value)
BigId = BigInteger().with_variant(Integer, "sqlite")


class OutboxMessage(Base):
    __tablename__ = "outbox_message"
    __table_args__ = (
        CheckConstraint(f"status IN {STATUSES!r}", name="status_known"),
        CheckConstraint(f"channel IN {CHANNELS!r}", name="channel_known"),
        Index("ix_outbox_due", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    desk: Mapped[str] = mapped_column(String(40))
    kind: Mapped[str] = mapped_column(String(40))
    channel: Mapped[str] = mapped_column(String(10), default=HTTP, server_default=HTTP)
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
