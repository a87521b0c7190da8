"""Durable delivery on every channel: a message is written in the same transaction as the change that
causes it (``enqueue``); workers deliver it through its channel's transport (HTTP, e-mail, SMS, Web
Push), retry what is worth retrying on a schedule, and record every attempt and answer.

Modules: ``models`` (tables), ``queue`` (enqueue, result handlers, retry by hand, retention),
``worker`` (claims, leases, heartbeats, recording), ``transports/`` (one module per channel).
"""

from tocsin.core.outbox.models import (
    CHANNELS,
    CLOSED,
    DELIVERED,
    EMAIL,
    FAILED,
    HTTP,
    PENDING,
    PUSH,
    REJECTED,
    RETRY,
    SMS,
    STATUSES,
    TECHNICAL,
    DeliveryAttempt,
    OutboundCredential,
    OutboxMessage,
    WorkerHeartbeat,
)
from tocsin.core.outbox.queue import (
    QUEUED_TOPIC,
    Outgoing,
    ResultHandler,
    attempts_of,
    drop_credentials,
    enqueue,
    enqueue_many,
    on_result,
    purge,
    purge_heartbeats,
    retry_by_hand,
    send_now,
    set_credential,
)
from tocsin.core.outbox.transports import Answer, TokenSource, TokenUnavailable, Transport, classify
from tocsin.core.outbox.worker import Worker

__all__ = [
    "CHANNELS",
    "QUEUED_TOPIC",
    "CLOSED",
    "DELIVERED",
    "EMAIL",
    "FAILED",
    "HTTP",
    "PENDING",
    "PUSH",
    "REJECTED",
    "RETRY",
    "SMS",
    "STATUSES",
    "TECHNICAL",
    "Answer",
    "DeliveryAttempt",
    "OutboundCredential",
    "OutboxMessage",
    "Outgoing",
    "ResultHandler",
    "send_now",
    "TokenSource",
    "TokenUnavailable",
    "Transport",
    "Worker",
    "WorkerHeartbeat",
    "attempts_of",
    "classify",
    "drop_credentials",
    "enqueue",
    "enqueue_many",
    "on_result",
    "purge",
    "purge_heartbeats",
    "retry_by_hand",
    "set_credential",
]
