"""OC role's rules: receiving M2/M4 from an OI. A repeat with the same content is stored once.

Each function works inside the caller's transaction; no HTTP here.
"""

from __future__ import annotations

import hashlib
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from tocsin.core import audit
from tocsin.interventions import flows
from tocsin.interventions.config import current
from tocsin.interventions.models import PM, Partner, ReceivedIntervention
from tocsin.interventions.schemas import OI_LABELS, InterventionOI, ProtocolError, Reply


def receive_announcement(*, db: Session, message: InterventionOI, sender: str, now: datetime) -> Reply:
    """OC: answer an M2 or M4 from an OI; a repeat with the same content is stored once."""
    config = current(db)
    if "OC" not in config.roles:
        raise ProtocolError(3, "Code_OI inconnu : nous ne sommes pas OC")
    partner = db.get(Partner, message.Code_OI)
    if partner is None or "OI" not in partner.roles:
        raise ProtocolError(3, f"Code_OI inconnu : {message.Code_OI}")
    if message.Fin_Inter is not None and message.Fin_Inter < message.Debut_Inter:
        raise ProtocolError(2, "Mauvais format : Fin_Inter (antérieure à Debut_Inter)")
    if db.get(PM, message.PM) is None:
        raise ProtocolError(4, f"PM inconnu : {message.PM}")
    kind = "M4" if message.Fin_Inter is not None else "M2"
    digest = hashlib.sha256(message.model_dump_json(exclude_none=True).encode()).hexdigest()
    row = db.scalar(
        select(ReceivedIntervention)
        .where(
            ReceivedIntervention.code_oi == message.Code_OI,
            ReceivedIntervention.ref_oi == message.Ref_Interv_OI,
        )
        .with_for_update()
    )
    outcome = _store_announcement(db, row, message, kind, digest, now)
    reply = Reply(0, OI_LABELS)
    flows.record_inbound(
        db,
        kind=kind,
        sender=sender,
        subject=message.Ref_Interv_OI,
        outcome=outcome,
        message=message,
        reply=reply,
        now=now,
    )
    return reply


def _store_announcement(
    db: Session,
    row: ReceivedIntervention | None,
    message: InterventionOI,
    kind: str,
    digest: str,
    now: datetime,
) -> str:
    if row is not None and row.digest == digest:
        row.receipts += 1
        return "duplicate"
    if row is not None and kind == "M2" and row.m4_at is not None:
        return "ignored"
    outcome = (
        "created" if row is None else ("completed" if kind == "M4" and row.m4_at is None else "modified")
    )
    row = row or ReceivedIntervention(code_oi=message.Code_OI, ref_oi=message.Ref_Interv_OI, receipts=0)
    row.pm, row.debut, row.digest = message.PM, message.Debut_Inter, digest
    row.pbos = [p.PBO for p in message.PBO or [] if p.PBO]
    row.receipts += 1
    if kind == "M4":
        row.fin, row.m4_at = message.Fin_Inter, now
    else:
        row.m2_at = now
    db.add(row)
    db.flush()
    audit.record(
        db,
        at=now,
        actor=message.Code_OI,
        action=f"interventions.announcement_{outcome}",
        object_type="iv_received",
        object_id=row.ref_oi,
        kind=kind,
    )
    return outcome
