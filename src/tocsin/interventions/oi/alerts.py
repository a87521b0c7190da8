"""Telling the OI's operators about deliveries that went wrong: a notification when an M2 or M4 to a
partner fails for good or is rejected (in the transaction that records it), and a daily digest of the
failures still open (nothing is sent on a day with none)."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, time
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tocsin.core import notify, outbox
from tocsin.core.auth.staff import StaffUser
from tocsin.core.outbox import OutboxMessage
from tocsin.core.scheduler import Job
from tocsin.interventions.config import configured_zone
from tocsin.interventions.flows import DELIVERY_RESULT, DESK

TEMPLATES = Path(__file__).parent / "templates"
OPEN = (outbox.FAILED, outbox.REJECTED)  # closed ones (KO past 48 h) are settled
DIGEST_ROWS = 20  # the newest ones; the page lists them all
DIGEST_AT = time(8, 0)

DELIVERY_FAILED = notify.declare(
    "interventions.delivery_failed",
    label="A delivery to a partner failed for good or was rejected",
    templates=TEMPLATES,
    roles=("operator",),
    language="fr",
    timezone="Europe/Paris",
    zone_of=configured_zone,
)
OPEN_FAILURES = notify.declare(
    "interventions.open_failures",
    label="Daily digest of the deliveries still failed",
    templates=TEMPLATES,
    roles=("operator",),
    language="fr",
    timezone="Europe/Paris",
    zone_of=configured_zone,
)


def operators(db: Session) -> list[StaffUser]:
    """Active staff holding the operator role (roles are a short JSON list: read them in Python)."""
    users = db.scalars(select(StaffUser).where(StaffUser.active.is_(True)).order_by(StaffUser.id))
    return [u for u in users if "operator" in u.roles]


@outbox.on_result(DELIVERY_RESULT)
def tell_operators(db: Session, message: OutboxMessage, outcome: str, body: Any) -> None:
    """An M2/M4 rejected by the partner, or given up after its retries: each operator is told."""
    if outcome not in (outbox.REJECTED, outbox.FAILED, outbox.TECHNICAL):
        return
    context = {
        "message": _described(message),
        "link": f"/interventions/oi/deliveries?partner={message.partner}",
    }
    at = message.finished_at or message.next_attempt_at
    for user in operators(db):
        notify.send(db, recipient=user, kind=DELIVERY_FAILED, context=context, now=at)


def _described(message: OutboxMessage) -> dict[str, Any]:
    return {
        "id": message.id,
        "kind": message.kind,
        "partner": message.partner,
        "intervention": message.subject,
        "rejected": message.status == outbox.REJECTED,
        "attempts": message.attempts,
        "answer": " ".join(str(p) for p in (message.last_status_code, message.last_error) if p) or "",
        "created_at": message.created_at,
        "finished_at": message.finished_at,
    }


def send_digest(*, db: Session, now: datetime) -> str:
    """Job, daily at 08:00: the deliveries of this desk still failed or rejected, to every operator."""
    open_ = select(OutboxMessage).where(OutboxMessage.desk == DESK, OutboxMessage.status.in_(OPEN))
    total = db.scalar(select(func.count()).select_from(open_.subquery())) or 0
    if not total:
        return "nothing open"
    per_partner = Counter(
        dict(
            db.execute(
                select(OutboxMessage.partner, func.count())
                .where(OutboxMessage.desk == DESK, OutboxMessage.status.in_(OPEN))
                .group_by(OutboxMessage.partner)
            ).all()
        )
    )
    newest = db.scalars(
        open_.order_by(OutboxMessage.created_at.desc(), OutboxMessage.id.desc()).limit(DIGEST_ROWS)
    )
    context = {
        "total": total,
        "partners": sorted(per_partner.items()),
        "messages": [_described(m) for m in newest],
        "shown": min(total, DIGEST_ROWS),
        "link": "/interventions/oi/deliveries",
    }
    told = operators(db)
    for user in told:
        notify.send(db, recipient=user, kind=OPEN_FAILURES, context=context, now=now)
    return f"{total} open failure(s) told to {len(told)} operator(s)"


DIGEST = Job(
    "interventions.open_failures_digest", 86400, send_digest, daily_at=DIGEST_AT, zone="Europe/Paris"
)
