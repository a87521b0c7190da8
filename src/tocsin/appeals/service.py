"""Appeals through their life, in the caller's transaction: a draft written, then every move made by
``act`` — checked against the status table (``states``), dated by the law's clock (``deadlines``),
recorded as an ``AppealEvent`` and in the audit trail. A citizen only ever reaches their own appeals:
another's answers "not found", whether it exists or not."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from tocsin.appeals import deadlines, states
from tocsin.appeals.checks import normalise_text
from tocsin.appeals.models import Agency, Appeal, AppealEvent, NumberSequence, Service
from tocsin.appeals.states import Actor, Status
from tocsin.core import audit
from tocsin.core.errors import DomainError, NotFound

SUBJECT_MAX, PLACE_MAX = 300, 300
CHANNELS = ("account", "email", "sms", "post")


@dataclass(frozen=True)
class Draft:
    """What a citizen writes (the form's fields)."""

    kind: str
    agency: str  # the agency's code
    subject: str
    body: str
    service: str | None = None  # the service's code
    place: str = ""
    happened_on: date | None = None
    wanted_result: str = ""
    answer_channel: str = "account"


def create_draft(db: Session, draft: Draft, *, citizen: str, now: datetime) -> Appeal:
    """A new draft, every field checked (the first wrong one is named)."""
    agency, service = _recipient(db, draft.agency, draft.service)
    appeal = Appeal(
        kind=_kind(draft.kind),
        status=Status.DRAFT.value,
        citizen=citizen,
        agency_id=agency.id,
        service_id=None if service is None else service.id,
        created_at=now,
        updated_at=now,
        extensions=0,
        attributes={},
    )
    _fill(appeal, draft)
    db.add(appeal)
    db.flush()
    _record(db, appeal, "create", Status.DRAFT, who=citizen, now=now)
    return appeal


def _fill(appeal: Appeal, draft: Draft) -> None:
    appeal.subject = normalise_text(draft.subject, field="subject", max_length=SUBJECT_MAX, multiline=False)
    appeal.body = normalise_text(draft.body, field="body")
    appeal.place = normalise_text(
        draft.place, field="place", max_length=PLACE_MAX, required=False, multiline=False
    )
    appeal.wanted_result = normalise_text(draft.wanted_result, field="wanted_result", required=False)
    if (
        draft.happened_on is not None
        and appeal.created_at is not None
        and draft.happened_on > appeal.created_at.date()
    ):
        raise DomainError("The date cannot be in the future.", field="happened_on")
    appeal.happened_on = draft.happened_on
    if draft.answer_channel not in CHANNELS:
        raise DomainError(f"Choose one of: {', '.join(CHANNELS)}.", field="answer_channel")
    appeal.answer_channel = draft.answer_channel


def _kind(kind: str) -> str:
    if kind not in deadlines.KINDS:
        raise DomainError(f"Choose one of: {', '.join(deadlines.KINDS)}.", field="kind")
    return kind


def _recipient(db: Session, agency_code: str, service_code: str | None) -> tuple[Agency, Service | None]:
    agency = db.scalar(select(Agency).where(Agency.code == agency_code))
    if agency is None:
        raise DomainError("No agency has this code.", field="agency")
    if service_code is None:
        return agency, None
    service = db.scalar(select(Service).where(Service.code == service_code))
    if service is None or service.agency_id != agency.id:
        raise DomainError("This agency offers no such service.", field="service")
    return agency, service


def mine(db: Session, appeal_id: int, citizen: str) -> Appeal:
    """A citizen's own appeal; any other (or none) is "not found", so ids cannot be probed."""
    appeal = db.get(Appeal, appeal_id, with_for_update=True)
    if appeal is None or appeal.citizen != citizen:
        raise NotFound("No such appeal.", field="id")
    return appeal


def act(
    db: Session,
    appeal: Appeal,
    action: str,
    *,
    actor: Actor,
    who: str,
    now: datetime,
    rejection: str | None = None,
    reason: str = "",
    days: int | None = None,
    to_agency: str | None = None,
) -> Appeal:
    """Make one move (``states.move`` decides whether it may be made) with what it changes."""
    source = Status(appeal.status)
    target = states.move(source, action, actor, rejection=rejection)
    detail = _effects(
        db, appeal, action, now=now, rejection=rejection, reason=reason, days=days, to_agency=to_agency
    )
    appeal.status, appeal.updated_at = target.value, now
    _record(db, appeal, action, source, who=who, now=now, detail=detail)
    return appeal


def _effects(
    db: Session,
    appeal: Appeal,
    action: str,
    *,
    now: datetime,
    rejection: str | None,
    reason: str,
    days: int | None,
    to_agency: str | None,
) -> dict[str, object]:
    if action == "send":
        appeal.sent_at = now
    elif action == "register":
        appeal.registered_on = deadlines.received_on(now)
        appeal.number = _next_number(db, appeal.agency_id, appeal.registered_on.year)
        appeal.due_on = deadlines.answer_due(appeal.registered_on, kind=appeal.kind)
        return {"number": appeal.number, "due_on": appeal.due_on.isoformat()}
    elif action == "extend":
        if appeal.due_on is None or days is None:
            raise DomainError("Say by how many days.", field="days")
        appeal.due_on = deadlines.extend(
            appeal.due_on, days, extensions_made=appeal.extensions, kind=appeal.kind
        )
        appeal.extensions += 1
        return {"days": days, "due_on": appeal.due_on.isoformat()}
    elif action == "forward":
        target, _ = _recipient(db, to_agency or "", None)
        if target.id == appeal.agency_id:
            raise DomainError("The appeal is already with this agency.", field="to_agency")
        reason = normalise_text(reason, field="reason", max_length=2000)
        previous, appeal.agency_id = appeal.agency_id, target.id
        return {"from_agency": previous, "to_agency": target.id, "reason": reason}
    elif action == "reject":
        appeal.rejection = rejection
        appeal.rejection_reason = normalise_text(reason, field="reason", max_length=2000)
        return {"rejection": rejection, "reason": appeal.rejection_reason}
    return {}


def _next_number(db: Session, agency_id: int, year: int) -> str:
    """``<AGENCY>-<YEAR>-<000042>``: one sequence per agency and year, taken under a row lock."""
    row = db.get(NumberSequence, (agency_id, year), with_for_update=True)
    if row is None:
        row = NumberSequence(agency_id=agency_id, year=year, last=0)
        db.add(row)
    row.last += 1
    agency = db.get(Agency, agency_id)
    assert agency is not None
    return f"{agency.code}-{year}-{row.last:06d}"


def link(db: Session, appeal: Appeal, kind: str, *, citizen: str, now: datetime) -> Appeal:
    """ "send_again" after a rejection (a corrected copy) or "dispute" after an answer (a complaint about
    it): a new draft linked to ``appeal``."""
    if not states.may_link(appeal.status, kind):
        raise DomainError(f"cannot {kind} an appeal that is {appeal.status}", field="action")
    agency = db.get(Agency, appeal.agency_id)
    service = None if appeal.service_id is None else db.get(Service, appeal.service_id)
    assert agency is not None
    draft = Draft(
        kind="complaint" if kind == "dispute" else appeal.kind,
        agency=agency.code,
        subject=appeal.subject,
        body=appeal.body,
        service=None if service is None else service.code,
        place=appeal.place,
        happened_on=appeal.happened_on,
        wanted_result=appeal.wanted_result,
        answer_channel=appeal.answer_channel,
    )
    copy = create_draft(db, draft, citizen=citizen, now=now)
    copy.linked_to, copy.link_kind = appeal.id, kind
    return copy


def history(db: Session, appeal: Appeal) -> list[AppealEvent]:
    return list(
        db.scalars(select(AppealEvent).where(AppealEvent.appeal_id == appeal.id).order_by(AppealEvent.id))
    )


def _record(
    db: Session,
    appeal: Appeal,
    action: str,
    source: Status,
    *,
    who: str,
    now: datetime,
    detail: dict[str, object] | None = None,
) -> None:
    db.add(
        AppealEvent(
            appeal_id=appeal.id,
            at=now,
            actor=who[:100],
            action=action,
            from_status=source.value,
            to_status=appeal.status,
            detail=detail or {},
        )
    )
    audit.record(db, at=now, actor=who, action=f"appeals.{action}", object_type="appeal", object_id=appeal.id)
