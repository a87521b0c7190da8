"""DO side of E-Intervention: a technician's start and end become M1 and M3 sent to the PM's OI.

The answers (R M1/R M3) come back through the outbox's result handler; a functional KO may be
corrected and re-sent for ``ko_resend_hours`` (48 h by default), after which a job closes it.
"""

from __future__ import annotations

import json
import re
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from tocsin.core import audit, dates, outbox
from tocsin.core.errors import Conflict, DomainError, NotFound
from tocsin.core.orgs import Scope
from tocsin.interventions import flows
from tocsin.interventions.config import current
from tocsin.interventions.models import PM, Declaration, DeclarationState, DeskConfig, Partner
from tocsin.interventions.oi import service as oi_rules
from tocsin.interventions.schemas import (
    DO_LABELS,
    InterventionDO,
    Nature,
    ProtocolError,
    Reply,
    format_instant,
    parse,
)

ON_RESULT = "interventions.declaration"
REFERENCE = re.compile(r"^[0-9A-Z_-]{1,50}$")
CONTROL = re.compile(r"[\x00-\x1f\x7f]")
LIMITS = {"PBO": 100, "PTO": 50}
NATURES = {1: 1, 2: 2, 3: 3, 4: 4, "1": 1, "2": 2, "3": 3, "4": 4}
QUEUED, OK, KO, FAILED, CLOSED, REPLACED = (
    DeclarationState.QUEUED,
    DeclarationState.OK,
    DeclarationState.KO,
    DeclarationState.FAILED,
    DeclarationState.CLOSED,
    DeclarationState.REPLACED,
)


def start(
    *,
    db: Session,
    pm: str,
    natures: Any,
    started_at: Any,
    technician: str,
    ref_do: str | None = None,
    team: int | None = None,
    now: datetime,
) -> Declaration:
    """Declare a start (HD): store the declaration and queue M1 to the PM's OI; idempotent on ref_do."""
    config = _config(db)
    if ref_do is not None:
        ref_do = checked_reference(ref_do)
        existing = find(db, ref_do)
        if existing is not None:
            return existing
    owner = known_pm(db, pm)
    partner = oi_partner(db, owner, config)
    declaration = Declaration(
        ref_do=ref_do or new_reference(config, now),
        code_oi=owner.oi_code,
        pm=owner.ref,
        natures=checked_natures(natures, at_end=False),
        debut=instant(started_at, "started_at"),
        technician=technician[:80],
        org_id=team,
        created_at=now,
        m1_state=QUEUED,
        m3_state=DeclarationState.NONE,
    )
    try:
        with db.begin_nested():
            db.add(declaration)
            db.flush()
    except IntegrityError:
        existing = find(db, declaration.ref_do)
        if existing is None:
            raise
        return existing
    _queue(db, declaration, "M1", partner, config, now)
    _audit(db, declaration, "interventions.declaration_started", now, technician)
    return declaration


def end(*, db: Session, ref_do: str, ended_at: Any, natures: Any = None, now: datetime) -> Declaration:
    """Declare an end (HF): queue M3, even before R M1 came back (the OI handles M3 before M1)."""
    config = _config(db)
    declaration = _declaration(db, ref_do, lock=True)
    fin = instant(ended_at, "ended_at")
    lines = declaration.natures if natures is None else checked_natures(natures, at_end=True)
    if fin < declaration.debut:
        raise DomainError("the end must not be before the start", field="ended_at")
    if declaration.fin == fin and declaration.natures == lines:
        return declaration
    declaration.fin, declaration.natures, declaration.m3_state = fin, lines, QUEUED
    _queue(db, declaration, "M3", oi_partner(db, known_pm(db, declaration.pm), config), config, now)
    _audit(db, declaration, "interventions.declaration_ended", now, declaration.technician)
    return declaration


def correct_and_resend(
    *, db: Session, ref_do: str, changes: dict[str, Any], now: datetime, actor: str
) -> Declaration:
    """Correct a rejected declaration (PM, times, natures) and re-send it, within ko_resend_hours."""
    config = _config(db)
    declaration = _declaration(db, ref_do, lock=True)
    if KO not in (declaration.m1_state, declaration.m3_state) or declaration.ko_at is None:
        raise Conflict("only a rejected declaration can be corrected", field="ref_do")
    deadline = declaration.ko_at + timedelta(hours=config.ko_resend_hours)
    if now > deadline:
        raise Conflict("the correction window of this rejection is over", field="ref_do")
    owner = known_pm(db, changes.get("pm") or declaration.pm)
    partner = oi_partner(db, owner, config)
    debut = instant(changes["started_at"], "started_at") if changes.get("started_at") else declaration.debut
    fin = instant(changes["ended_at"], "ended_at") if changes.get("ended_at") else declaration.fin
    lines = checked_natures(changes.get("natures") or declaration.natures, at_end=fin is not None)
    if fin is not None and fin < debut:
        raise DomainError("the end must not be before the start", field="ended_at")
    declaration.pm, declaration.debut = owner.ref, debut
    declaration.code_oi = owner.oi_code or declaration.code_oi  # known_pm() refused a PM without OI
    declaration.fin, declaration.natures = fin, lines
    kind = _resend_kind(declaration)
    _queue(db, declaration, kind, partner, config, now)
    _audit(db, declaration, "interventions.declaration_corrected", now, actor, resent=kind)
    return declaration


def _resend_kind(declaration: Declaration) -> str:
    """With an end known, M3 alone carries the correction (the OI creates the reference from M3)."""
    if declaration.fin is None:
        declaration.m1_state = QUEUED
        return "M1"
    if declaration.m1_state == KO:
        declaration.m1_state = REPLACED
    declaration.m3_state = QUEUED
    return "M3"


@outbox.on_result(ON_RESULT)
def record_answer(db: Session, message: outbox.OutboxMessage, outcome: str, body: Any) -> None:
    """R M1/R M3: OK stores Ref_Interv_OI; a functional KO opens the correction window; failed is shown."""
    declaration = find(db, message.subject)
    if declaration is None or message.kind not in ("M1", "M3"):
        return
    at = message.finished_at or datetime.now(UTC)
    answer = body if isinstance(body, dict) else {}
    states: dict[str, DeclarationState] = {outbox.DELIVERED: OK, outbox.REJECTED: KO}
    state = states.get(outcome, FAILED)
    if state == KO and not answer:
        answer = {"Description_Reponse": f"HTTP {message.last_status_code}"}
    apply_answer(db, declaration, message.kind, state, answer, at)


def apply_answer(
    db: Session, declaration: Declaration, kind: str, state: str, answer: dict[str, Any], at: datetime
) -> None:
    """Record R M1/R M3 on the declaration: the OI reference, or the KO to correct, or the failure."""
    _set_state(declaration, kind, state)
    if state == OK:
        declaration.ref_oi = answer.get("Ref_Interv_OI") or declaration.ref_oi
    if state == KO:
        code = answer.get("Code_Reponse")
        declaration.last_code = code if isinstance(code, int) else None
        declaration.last_description = _description(answer)
        declaration.ko_at = at
    detail = {"kind": kind, "code": answer.get("Code_Reponse"), "ref_oi": declaration.ref_oi}
    _audit(db, declaration, f"interventions.declaration_{state}", at, "outbox", **detail)


def _set_state(declaration: Declaration, kind: str, state: str) -> None:
    if kind == "M1":
        declaration.m1_state = state
        return
    declaration.m3_state = state
    if state == OK and declaration.m1_state in (KO, FAILED):
        declaration.m1_state = REPLACED


def _description(answer: dict[str, Any]) -> str:
    text = (
        answer.get("Description_Reponse") or answer.get("Libelle_Reponse") or answer.get("error_description")
    )
    return str(text or "?")[:200]


def close_expired_rejections(*, db: Session, now: datetime) -> str:
    """Job: a rejection not corrected within ko_resend_hours is closed (and audited)."""
    try:
        config = current(db)
    except LookupError:
        return "no configuration"
    limit = now - timedelta(hours=config.ko_resend_hours)
    query = (
        select(Declaration)
        .where(or_(Declaration.m1_state == KO, Declaration.m3_state == KO), Declaration.ko_at < limit)
        .with_for_update()
    )
    closed = 0
    for declaration in db.scalars(query):
        declaration.m1_state = CLOSED if declaration.m1_state == KO else declaration.m1_state
        declaration.m3_state = CLOSED if declaration.m3_state == KO else declaration.m3_state
        _audit(db, declaration, "interventions.declaration_closed", now, "job")
        closed += 1
    return f"{closed} rejected declaration(s) closed"


def rejected(db: Session, *, scope: Scope) -> list[Declaration]:
    """Declarations of the teams in ``scope`` waiting for a correction, oldest rejection first."""
    query = select(Declaration).where(or_(Declaration.m1_state == KO, Declaration.m3_state == KO))
    query = within(query, scope)
    return list(db.scalars(query.order_by(Declaration.ko_at, Declaration.id)))


def closed(db: Session, *, scope: Scope, limit: int = 200) -> list[Declaration]:
    """Rejections of the teams in ``scope`` closed without correction, most recent first."""
    query = select(Declaration).where(or_(Declaration.m1_state == CLOSED, Declaration.m3_state == CLOSED))
    query = within(query, scope)
    return list(db.scalars(query.order_by(Declaration.ko_at.desc(), Declaration.id.desc()).limit(limit)))


def within(query: Any, scope: Scope) -> Any:
    """Only the declarations of the teams in ``scope`` (a global role sees every team's, and those made
    before teams existed)."""
    if scope.everywhere:
        return query
    return query.where(Declaration.org_id.in_(sorted(scope.orgs)))


def visible(db: Session, ref_do: Any, *, scope: Scope) -> Declaration:
    """The declaration with this reference, if the reader's scope covers it (else NotFound: no hint that
    it exists)."""
    declaration = db.scalar(
        within(select(Declaration).where(Declaration.ref_do == checked_reference(ref_do)), scope)
    )
    if declaration is None:
        raise NotFound("no declaration has this reference", field="ref_do")
    return declaration


def deadline_of(db: Session, declaration: Declaration) -> datetime | None:
    """When the correction window of a rejected declaration closes."""
    if declaration.ko_at is None:
        return None
    return declaration.ko_at + timedelta(hours=_config(db).ko_resend_hours)


def message_body(declaration: Declaration, kind: str, config: DeskConfig) -> dict[str, Any]:
    """M1 or M3 exactly as the OpenAPI's intervention_DO lays it out."""
    zone = ZoneInfo(config.timezone)
    body: dict[str, Any] = {
        "Code_DO": config.self_code,
        "Code_OI": declaration.code_oi,
        "Ref_Interv_DO": declaration.ref_do,
        "PM": declaration.pm,
        "Nature_PBO_PTO": [dict(line) for line in declaration.natures],
        "Debut_Inter": format_instant(declaration.debut, zone),
    }
    if kind == "M3":
        assert declaration.fin is not None
        body["Fin_Inter"] = format_instant(declaration.fin, zone)
    return body


def find(db: Session, ref_do: str) -> Declaration | None:
    return db.scalar(select(Declaration).where(Declaration.ref_do == ref_do))


def new_reference(config: DeskConfig, now: datetime) -> str:
    """A unique Ref_Interv_DO: our code, the day and 40 random bits (e.g. DOXX-20261120-9F3A07C21B)."""
    return f"{config.self_code}-{now:%Y%m%d}-{secrets.token_hex(5).upper()}"


def checked_reference(value: Any) -> str:
    if not isinstance(value, str) or not REFERENCE.match(value):
        raise DomainError("a reference is 1 to 50 characters among A-Z, 0-9, _ and -", field="ref_do")
    return value


def known_pm(db: Session, value: Any) -> PM:
    """The PM from our referential, which must name its OI."""
    ref = value.strip().upper() if isinstance(value, str) else ""
    if not REFERENCE.match(ref):
        raise DomainError("a PM reference is 1 to 50 characters among A-Z, 0-9, _ and -", field="pm")
    pm = db.get(PM, ref)
    if pm is None:
        raise DomainError("this PM is not in our referential", field="pm")
    if not pm.oi_code:
        raise DomainError("this PM has no OI in our referential", field="pm")
    return pm


def oi_partner(db: Session, pm: PM, config: DeskConfig) -> Partner | None:
    """The OI to send to; None when we are this PM's OI ourselves (an OI dispatching its own technicians)."""
    if pm.oi_code == config.self_code and "OI" in config.roles:
        return None
    partner = db.get(Partner, pm.oi_code)
    if partner is None or not partner.url:
        raise DomainError("the OI of this PM has no address in our configuration", field="pm")
    return partner


def checked_natures(value: Any, *, at_end: bool) -> list[dict[str, Any]]:
    """Nature lines {nature, PBO?, PTO?}; AUCUNE ACTION (3) only at the end."""
    if not isinstance(value, list) or not value:
        raise DomainError("give at least one nature line", field="natures")
    if len(value) > 1000:
        raise DomainError("at most 1000 nature lines", field="natures")
    return [_line(item, index, at_end) for index, item in enumerate(value)]


def _line(item: Any, index: int, at_end: bool) -> dict[str, Any]:
    where = f"natures[{index}]"
    raw = item.get("nature") if isinstance(item, dict) else None
    nature = NATURES.get(raw) if isinstance(raw, int | str) and not isinstance(raw, bool) else None
    if nature is None:
        raise DomainError("choose RACC, SAV, AUCUNE ACTION or NON FOURNIE", field=f"{where}.nature")
    if nature == Nature.AUCUNE_ACTION and not at_end:
        raise DomainError("AUCUNE ACTION is only allowed at the end", field=f"{where}.nature")
    line: dict[str, Any] = {"nature": nature}
    for key, limit in LIMITS.items():
        text = item.get(key)
        if text is None or (isinstance(text, str) and not text.strip()):
            continue
        if not isinstance(text, str) or len(text.strip()) > limit or CONTROL.search(text):
            raise DomainError(f"at most {limit} characters, no control characters", field=f"{where}.{key}")
        line[key] = text.strip()
    return line


def instant(value: Any, field: str) -> datetime:
    """An instant in UTC: RFC 3339 text from the technician's page, or an aware datetime that our own
    correction form already read with ``dates.local_moment`` (both within the core's years)."""
    if isinstance(value, datetime) and value.tzinfo is not None:
        if not dates.MIN_YEAR <= value.year <= dates.MAX_YEAR:
            raise DomainError(dates.YEAR_RANGE, field=field)
        return value.astimezone(UTC)
    return dates.instant(value, field=field)


def _config(db: Session) -> DeskConfig:
    try:
        config = current(db)
    except LookupError:
        raise DomainError("no interventions configuration is loaded") from None
    if "DO" not in config.roles:
        raise DomainError("this deployment is not configured as a DO")
    return config


def _declaration(db: Session, ref_do: Any, *, lock: bool) -> Declaration:
    query = select(Declaration).where(Declaration.ref_do == checked_reference(ref_do))
    declaration = db.scalar(query.with_for_update() if lock else query)
    if declaration is None:
        raise NotFound("no declaration has this reference", field="ref_do")
    return declaration


def _queue(
    db: Session,
    declaration: Declaration,
    kind: str,
    partner: Partner | None,
    config: DeskConfig,
    now: datetime,
) -> None:
    """One stream per declaration, so M3 never overtakes M1 on the way to the OI."""
    if partner is None:
        _hand_to_our_oi(db, declaration, kind, config, now)
        return
    flows.send(
        db,
        partner=partner,
        kind=kind,
        payload=message_body(declaration, kind, config),
        subject=declaration.ref_do,
        stream=f"{flows.DESK}:{partner.code}:{declaration.ref_do}",
        now=now,
        on_result=ON_RESULT,
    )


def _hand_to_our_oi(
    db: Session, declaration: Declaration, kind: str, config: DeskConfig, now: datetime
) -> None:
    """We are the PM's OI too: our OI rules answer at once, in this transaction (no HTTP to ourselves)."""
    body = json.dumps(message_body(declaration, kind, config))
    try:
        with db.begin_nested():
            reply = oi_rules.receive_declaration(
                db=db, message=parse(InterventionDO, body.encode()), sender=config.self_code, now=now
            )
        answer, state = reply.body(), OK
    except ProtocolError as error:
        answer, state = Reply(error.code, DO_LABELS, description=error.description).body(), KO
    apply_answer(db, declaration, kind, state, answer, now)


def _audit(
    db: Session, declaration: Declaration, action: str, now: datetime, actor: str, **detail: Any
) -> None:
    audit.record(
        db,
        at=now,
        actor=actor,
        action=action,
        object_type="iv_declaration",
        object_id=declaration.ref_do,
        pm=declaration.pm,
        code_oi=declaration.code_oi,
        m1=declaration.m1_state,
        m3=declaration.m3_state,
        **detail,
    )
