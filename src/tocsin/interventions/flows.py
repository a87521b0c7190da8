"""Side effects after a change: the outbound messages, written to the core outbox in the same transaction,
and the live event that updates the OI's open pages."""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast
from zoneinfo import ZoneInfo

from pydantic import BaseModel
from sqlalchemy import Table, insert, select
from sqlalchemy.orm import Session

from tocsin.core import live, outbox
from tocsin.core.db import Direct
from tocsin.interventions.config import referential
from tocsin.interventions.models import DeskConfig, InboundMessage, Intervention, Partner
from tocsin.interventions.schemas import Reply, format_instant

DESK = "interventions"
DELIVERY_RESULT = "interventions.delivery"  # M2/M4 answers; oi/alerts.py tells the operators of failures
INTERVENTIONS_TOPIC = "interventions.oi"  # live topic: an intervention was created or changed at the OI
PATHS = {
    "M1": "intervention_DO",
    "M3": "intervention_DO",
    "M2": "intervention_OI",
    "M4": "intervention_OI",
    "M5": "client_HS_OC_Par_Inter",
}


def announcement(intervention: Intervention, kind: str, config: DeskConfig) -> dict[str, Any]:
    """M2 or M4 for the OCs: anonymised (no Code_DO, no PTO), PBOs only if the DO gave them."""
    zone = ZoneInfo(config.timezone)
    body: dict[str, Any] = {
        "Code_OI": config.self_code,
        "Ref_Interv_OI": intervention.ref_oi,
        "PM": intervention.pm,
        "Debut_Inter": format_instant(intervention.debut, zone),
    }
    pbos = sorted({n["PBO"] for n in intervention.natures if n.get("PBO")})
    if pbos:
        body["PBO"] = [{"PBO": p} for p in pbos]
    if kind == "M4":
        assert intervention.fin is not None
        body["Fin_Inter"] = format_instant(intervention.fin, zone)
    return body


def fan_out(
    db: Session,
    intervention: Intervention,
    *,
    kinds: list[str],
    config: DeskConfig,
    now: datetime,
    new: bool = False,
) -> int:
    """Rule 6: queue M2/M4 for every OC present at the PM; an OC that never got M2 gets it first."""
    known = referential(db)
    codes = [c for c in known.pm_ocs.get(intervention.pm, ()) if c != config.self_code]
    if not codes:
        return 0
    partners = known.partners
    last = {} if new else _last_sent(db, intervention.ref_oi)
    messages = []
    for code in codes:
        partner = partners.get(code)
        if partner is None or not partner.url:
            continue
        wanted = kinds if "M2" in kinds or (code, "M2") in last else ["M2", *kinds]
        for kind in wanted:
            body = announcement(intervention, kind, config)
            if last.get((code, kind)) == body:
                continue
            stream = f"{DESK}:{code}:{intervention.ref_oi}"
            messages.append(
                outgoing(partner, kind, body, intervention.ref_oi, stream, config, DELIVERY_RESULT)
            )
    outbox.enqueue_many(db, messages, now=now)
    return len(messages)


def tell_pages(db: Session, intervention: Intervention, *, change: str, now: datetime) -> None:
    """Tell the OI's open pages, when this transaction commits, that an intervention changed."""
    live.publish(
        db, topic=INTERVENTIONS_TOPIC, data={"ref_oi": intervention.ref_oi, "change": change}, now=now
    )


def _last_sent(db: Session, ref_oi: str) -> dict[tuple[str, str], dict[str, Any]]:
    rows = db.execute(
        select(outbox.OutboxMessage.partner, outbox.OutboxMessage.kind, outbox.OutboxMessage.payload)
        .where(outbox.OutboxMessage.desk == DESK, outbox.OutboxMessage.subject == ref_oi)
        .order_by(outbox.OutboxMessage.id)
    )
    return {(partner, kind): payload for partner, kind, payload in rows}


def send(
    db: Session,
    *,
    partner: Partner,
    kind: str,
    payload: dict[str, Any],
    subject: str,
    stream: str,
    now: datetime,
    on_result: str | None = None,
    config: DeskConfig | None = None,
) -> int:
    """Queue one protocol message to a partner's ``/v1`` base URL, retried on the configured schedule;
    answer its outbox id."""
    message = outgoing(partner, kind, payload, subject, stream, config or db.get(DeskConfig, 1), on_result)
    return outbox.enqueue_one(db, message, now=now)


def outgoing(
    partner: Partner,
    kind: str,
    payload: dict[str, Any],
    subject: str,
    stream: str,
    config: DeskConfig | None,
    on_result: str | None,
) -> outbox.Outgoing:
    """A protocol message to a partner's ``/v1`` base URL, retried on the configured schedule."""
    assert partner.url, f"partner {partner.code} has no URL"
    return outbox.Outgoing(
        desk=DESK,
        kind=kind,
        partner=partner.code,
        url=f"{partner.url.rstrip('/')}/{PATHS[kind]}",
        payload=payload,
        stream=stream,
        subject=subject,
        credential=partner.credential,
        on_result=on_result,
        schedule=list(config.retry_schedule) if config else None,
    )


def record_inbound(
    db: Session,
    *,
    kind: str,
    sender: str,
    subject: str,
    outcome: str,
    message: BaseModel,
    reply: Reply,
    now: datetime,
) -> None:
    """Keep an accepted message as received, with what we made of it (a plain INSERT: it is on every
    message's path and nothing reads it back in the same transaction)."""
    row = {"received_at": now, "kind": kind, "sender": sender, "subject": subject, "outcome": outcome}
    row |= {"payload": message.model_dump(mode="json", exclude_none=True), "reply": reply.body()}
    _INBOUND.run(db, row)


_INBOUND = Direct(
    insert(cast(Table, InboundMessage.__table__)),
    ["received_at", "kind", "sender", "subject", "outcome", "payload", "reply"],
)
