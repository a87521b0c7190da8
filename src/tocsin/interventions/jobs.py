"""Scheduled work of the interventions desk, run by ``tocsin worker`` (each run claimed by one worker)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from tocsin.core import outbox, search
from tocsin.core.audit import AuditEvent
from tocsin.core.db import affected
from tocsin.core.scheduler import Job
from tocsin.interventions.config import current
from tocsin.interventions.do.service import close_expired_rejections
from tocsin.interventions.models import (
    Declaration,
    InboundMessage,
    Intervention,
    LineCut,
    OutageImport,
    ReceivedIntervention,
    Rejection,
)
from tocsin.interventions.oc import outages
from tocsin.interventions.oi.search import INTERVENTIONS


def close_old_rejections(*, db: Session, now: datetime) -> str:
    """A KO (functional rejection) may be corrected and re-sent for 48 h; after that it is closed."""
    try:
        config = current(db)
    except LookupError:
        return "no configuration"
    limit = now - timedelta(hours=config.ko_resend_hours)
    result = db.execute(
        update(outbox.OutboxMessage)
        .where(
            outbox.OutboxMessage.desk == "interventions",
            outbox.OutboxMessage.status == outbox.REJECTED,
            outbox.OutboxMessage.finished_at < limit,
        )
        .values(status=outbox.CLOSED)
    )
    return f"{affected(result)} rejected message(s) closed"


def purge_expired(*, db: Session, now: datetime) -> str:
    """Retention: delete what is older than the configured number of days."""
    try:
        config = current(db)
    except LookupError:
        return "no configuration"
    before = now - timedelta(days=config.retention_days)
    expired = Intervention.updated_at < before
    search.remove_selected(db, INTERVENTIONS, keys=select(Intervention.id).where(expired))
    counts = {
        "messages": outbox.purge(db, desk="interventions", before=before),
        "inbound": _delete(db, InboundMessage, InboundMessage.received_at < before),
        "rejections": _delete(db, Rejection, Rejection.received_at < before),
        "interventions": _delete(db, Intervention, expired),
        "received": _delete(db, ReceivedIntervention, ReceivedIntervention.debut < before),
        "line_cuts": _delete(db, LineCut, LineCut.cut_at < before),
        "outage_imports": _delete(db, OutageImport, OutageImport.at < before),  # their files follow them
        "declarations": _delete(db, Declaration, Declaration.debut < before),
        "audit": _delete(db, AuditEvent, AuditEvent.at < before, AuditEvent.action.like("interventions.%")),
    }
    return ", ".join(f"{name} {count}" for name, count in counts.items())


def _delete(db: Session, model: Any, *conditions: Any) -> int:
    return affected(db.execute(delete(model).where(*conditions)))


JOBS = [
    Job("interventions.close_old_rejections", 600, close_old_rejections),
    Job("interventions.purge_expired", 3600, purge_expired),
    Job("interventions.send_due_m5", 60, outages.send_due_m5),
    Job("interventions.close_expired_declarations", 600, close_expired_rejections),
]
