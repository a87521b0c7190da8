"""OI role's rules of E-Intervention lot 1 as plain functions: receiving M1/M3 (rules 1–9 of the spec)
and M5. No HTTP here; each function works inside the caller's transaction; outbound messages go
through ``flows``.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast
from zoneinfo import ZoneInfo

from sqlalchemy import Table, bindparam, insert, select
from sqlalchemy.orm import Session

from tocsin.core import audit
from tocsin.core.db import Direct
from tocsin.interventions import flows
from tocsin.interventions.config import Referential, current, referential
from tocsin.interventions.models import (
    PM,
    DeskConfig,
    Impact,
    ImpactReport,
    Intervention,
)
from tocsin.interventions.oi.search import index_intervention
from tocsin.interventions.schemas import (
    DO_LABELS,
    M5_LABELS,
    ClientsHS,
    InterventionDO,
    Nature,
    ProtocolError,
    Reply,
)

UNKNOWN = "inconnu"


@dataclass(frozen=True)
class Declared:
    """An M1 or M3 in our own words."""

    code_do: str
    code_oi: str
    ref_do: str
    pm: str
    natures: list[dict[str, Any]]
    debut: datetime
    fin: datetime | None

    @property
    def kind(self) -> str:
        return "M3" if self.fin is not None else "M1"

    @classmethod
    def from_wire(cls, message: InterventionDO) -> Declared:
        natures = [{k: v for k, v in n.model_dump().items() if v is not None} for n in message.Nature_PBO_PTO]
        return cls(
            message.Code_DO,
            message.Code_OI,
            message.Ref_Interv_DO,
            message.PM,
            natures,
            message.Debut_Inter,
            message.Fin_Inter,
        )

    def digest(self) -> str:
        content = [
            self.code_do,
            self.code_oi,
            self.ref_do,
            self.pm,
            self.natures,
            self.debut.timestamp(),
            self.fin.timestamp() if self.fin else None,
        ]
        return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()


def receive_declaration(*, db: Session, message: InterventionDO, sender: str, now: datetime) -> Reply:
    """OI: answer an M1 or M3 (rules 1–9); fan out M2/M4 to every OC present at the PM."""
    known = referential(db)
    config = known.config
    declared = Declared.from_wire(message)
    check_declaration(declared, config, known)
    intervention = _find(db, declared.code_do, declared.ref_do)
    if intervention is None:
        intervention = _create(db, declared, config, now)
        outcome = "created"
    elif declared.kind == "M1":
        outcome = _second_m1(db, intervention, declared, config, now)
    else:
        outcome = _second_m3(db, intervention, declared, config, now)
    reply = Reply(0, DO_LABELS, ref_oi=intervention.ref_oi)
    if outcome != "duplicate":
        flows.tell_pages(db, intervention, change=outcome, now=now)
    flows.record_inbound(
        db,
        kind=declared.kind,
        sender=sender,
        subject=intervention.ref_oi,
        outcome=outcome,
        message=message,
        reply=reply,
        now=now,
    )
    return reply


def check_declaration(declared: Declared, config: DeskConfig, known: Referential) -> None:
    """Rule 1 after the wire checks: nature and dates, then our code, then the PM."""
    for index, nature in enumerate(declared.natures):
        if declared.kind == "M1" and nature["nature"] == Nature.AUCUNE_ACTION:
            raise ProtocolError(
                2, f"Mauvais format : Nature_PBO_PTO[{index}].nature (AUCUNE ACTION interdit en M1)"
            )
    if declared.fin is not None and declared.fin < declared.debut:
        raise ProtocolError(2, "Mauvais format : Fin_Inter (antérieure à Debut_Inter)")
    if declared.code_oi != config.self_code or "OI" not in config.roles:
        raise ProtocolError(3, f"Code_OI inconnu : {declared.code_oi}")
    if declared.pm not in known.pm_ocs:
        raise ProtocolError(4, f"PM inconnu : {declared.pm}")


def _find(db: Session, code_do: str, ref_do: str) -> Intervention | None:
    """The intervention of a DO reference, locked; only its key is read until one exists (rarely)."""
    key = _FIND.scalar(db, {"code_do": code_do, "ref_do": ref_do})
    return None if key is None else db.get(Intervention, key)


def _create(db: Session, declared: Declared, config: DeskConfig, now: datetime) -> Intervention:
    """Rule 2: one OI reference per DO reference, made on M1 or on an M3 that came first (rule 5).

    Two first messages racing for one DO reference: the loser's INSERT breaks the UNIQUE constraint and
    the API replays the whole request once, when it finds the winner's row (see ``protocol._handle``).

    The row is written with a plain INSERT, not by the session's unit of work (several times the cost on
    the hot path); the object answered is never added to the session, so nothing flushes it again, and
    it is only read (a later query in this transaction loads the row as a new object).
    """
    intervention = Intervention(
        ref_oi=new_ref_oi(config, now),
        code_do=declared.code_do,
        ref_do=declared.ref_do,
        pm=declared.pm,
        natures=declared.natures,
        debut=declared.debut,
        fin=declared.fin,
        created_from=declared.kind,
        created_at=now,
        updated_at=now,
        flags=[],
    )
    _stamp(intervention, declared, now)
    intervention.flags = quality_flags(intervention, config)
    intervention.id = _INSERT.scalar(db, {key: getattr(intervention, key) for key in _COLUMNS})
    kinds = ["M2"] if declared.kind == "M1" else ["M2", "M4"]
    flows.fan_out(db, intervention, kinds=kinds, config=config, now=now, new=True)
    _audit(db, intervention, f"interventions.created_from_{declared.kind}", now)
    index_intervention(db, intervention, new=True)
    return intervention


_TABLE = cast(Table, Intervention.__table__)
_FIND = Direct(
    select(_TABLE.c.id)
    .where(_TABLE.c.code_do == bindparam("code_do"), _TABLE.c.ref_do == bindparam("ref_do"))
    .with_for_update()
)
_COLUMNS = [column.key for column in _TABLE.columns if column.key != "id"]
_INSERT = Direct(insert(_TABLE).returning(_TABLE.c.id), _COLUMNS)


def _second_m1(
    db: Session, intervention: Intervention, declared: Declared, config: DeskConfig, now: datetime
) -> str:
    """Rules 3–5 for an M1 on a known reference."""
    if intervention.m3_at is not None:
        if "m1_after_m3" not in intervention.flags:
            intervention.flags = [*intervention.flags, "m1_after_m3"]
        return "ignored"
    if intervention.m1_digest == declared.digest():
        return "duplicate"
    _update(intervention, declared, now)
    intervention.flags = quality_flags(intervention, config) + ["modified"]
    flows.fan_out(db, intervention, kinds=["M2"], config=config, now=now)
    _audit(db, intervention, "interventions.modified_M1", now)
    index_intervention(db, intervention)
    return "modified"


def _second_m3(
    db: Session, intervention: Intervention, declared: Declared, config: DeskConfig, now: datetime
) -> str:
    """An M3 on a known reference: completes it, or is a duplicate, or a modified re-send."""
    if intervention.m3_digest == declared.digest():
        return "duplicate"
    first_end = intervention.m3_at is None
    _update(intervention, declared, now)
    extra = [f for f in intervention.flags if f in ("modified", "m1_after_m3")]
    if not first_end:
        extra = sorted({*extra, "modified"})
    intervention.flags = quality_flags(intervention, config) + extra
    flows.fan_out(db, intervention, kinds=["M4"], config=config, now=now)
    _audit(db, intervention, "interventions.ended" if first_end else "interventions.modified_M3", now)
    index_intervention(db, intervention)
    return "completed" if first_end else "modified"


def _update(intervention: Intervention, declared: Declared, now: datetime) -> None:
    intervention.pm, intervention.natures, intervention.debut = declared.pm, declared.natures, declared.debut
    if declared.fin is not None:
        intervention.fin = declared.fin
    intervention.updated_at = now
    _stamp(intervention, declared, now)


def _stamp(intervention: Intervention, declared: Declared, now: datetime) -> None:
    if declared.kind == "M1":
        intervention.m1_at, intervention.m1_digest = now, declared.digest()
    else:
        intervention.m3_at, intervention.m3_digest = now, declared.digest()


def quality_flags(intervention: Intervention, config: DeskConfig) -> list[str]:
    """Rule 9: what the OI can see of timestamp quality (flags are shown, they never block)."""
    flags = []
    tolerance = timedelta(minutes=config.future_tolerance_minutes)
    received = intervention.m1_at or intervention.m3_at
    if received and intervention.debut > received + tolerance:
        flags.append("hd_in_future")
    if intervention.fin and intervention.m3_at and intervention.fin > intervention.m3_at + tolerance:
        flags.append("hf_in_future")
    if intervention.fin and intervention.fin - intervention.debut > timedelta(
        hours=config.long_intervention_hours
    ):
        flags.append("long_intervention")
    if intervention.m1_at and intervention.m1_at - intervention.debut > timedelta(
        minutes=config.late_m1_minutes
    ):
        flags.append("late_m1")
    if intervention.created_from == "M3":
        flags.append("m3_before_m1")
    return flags


def new_ref_oi(config: DeskConfig, now: datetime) -> str:
    """A fresh OI reference: our code, the day, and 10 random hex digits."""
    return f"{config.self_code}-{now:%Y%m%d}-{secrets.token_hex(5).upper()}"


def _audit(db: Session, intervention: Intervention, action: str, now: datetime) -> None:
    audit.record(
        db,
        at=now,
        actor=intervention.code_do,
        action=action,
        object_type="iv_intervention",
        object_id=intervention.ref_oi,
        pm=intervention.pm,
        flags=intervention.flags,
    )


def receive_impacts(*, db: Session, message: ClientsHS, sender: str, now: datetime) -> Reply:
    """OI: store an M5 (a re-send replaces the OC's previous list), flagging entries that do not count."""
    config = current(db)
    intervention = db.scalar(select(Intervention).where(Intervention.ref_oi == message.Ref_Interv_OI))
    if intervention is None:
        raise ProtocolError(3, f"Ref_Interv_OI inconnue : {message.Ref_Interv_OI}")
    pm = db.get(PM, intervention.pm)
    report = db.scalar(
        select(ImpactReport).where(
            ImpactReport.intervention_id == intervention.id, ImpactReport.oc_code == message.Code_OC_impacte
        )
    )
    report = report or ImpactReport(intervention_id=intervention.id, oc_code=message.Code_OC_impacte)
    report.received_at = now
    report.flags = report_flags(intervention, message.Code_OC_impacte, pm, config, now)
    report.impacts = [_impact(intervention, c, config) for c in message.Liste_Clients_HS or []]
    db.add(report)
    reply = Reply(0, M5_LABELS)
    flows.tell_pages(db, intervention, change="impacts", now=now)
    flows.record_inbound(
        db,
        kind="M5",
        sender=sender,
        subject=intervention.ref_oi,
        outcome="stored",
        message=message,
        reply=reply,
        now=now,
    )
    audit.record(
        db,
        at=now,
        actor=sender,
        action="interventions.impacts_received",
        object_type="iv_intervention",
        object_id=intervention.ref_oi,
        oc=message.Code_OC_impacte,
        entries=len(report.impacts),
        flags=report.flags,
    )
    return reply


def report_flags(
    intervention: Intervention, oc: str, pm: PM | None, config: DeskConfig, now: datetime
) -> list[str]:
    flags = []
    if pm is None or oc not in pm.oc_codes:
        flags.append("oc_not_present_at_pm")
    if now > end_of_day(intervention, config):
        flags.append("after_midnight")
    if intervention.fin is None:
        flags.append("before_end")
    return flags


def end_of_day(intervention: Intervention, config: DeskConfig) -> datetime:
    """Midnight (local time) after the intervention's day: M5 should arrive before it."""
    zone = ZoneInfo(config.timezone)
    day = (intervention.fin or intervention.debut).astimezone(zone).date()
    return datetime.combine(day + timedelta(days=1), datetime.min.time(), tzinfo=zone)


def _impact(intervention: Intervention, client: Any, config: DeskConfig) -> Impact:
    """One reported line and why it does not count as HS, if it does not (spec: M5 criteria)."""
    flags = []
    if client.PTO.lower() == UNKNOWN:
        flags.append("pto_unknown")
    if intervention.fin is None or not intervention.debut <= client.HMS_Coupure <= intervention.fin:
        flags.append("out_of_window")
    if client.PTO in {n.get("PTO") for n in intervention.natures}:
        flags.append("worked_on_by_do")
    return Impact(
        pto=client.PTO,
        pbo=client.PBO,
        tube=client.Tube,
        fibre=client.Fibre,
        position=client.Position_PM_Module_OI,
        cut_at=client.HMS_Coupure,
        counted=not flags,
        flags=flags,
    )
