"""Trackers handed out and taken back at the gatehouse's charging station, per shift (08:00–20:00 and
20:00–08:00 local): who took which tracker, who handed it out and took it back, when, and the battery
when it came back. A tracker is out at most once at a time; one not out cannot be taken back; the ones
still out from an earlier shift are a problem the gatehouse sees first.

The rules are plain functions (``check_out``, ``check_in``, ``return_checkout``); the gatehouse's two
forms post here and come back to the gatehouse page (``muster.py``), the JSON API is in ``api.py``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from tocsin.core import audit, auth
from tocsin.core.errors import Conflict, DomainError, NotFound
from tocsin.core.web import DB, check_csrf, path_to, shell_of
from tocsin.minesafe.models import Checkout, Tracker
from tocsin.minesafe.pages import OPERATORS, the_site
from tocsin.minesafe.registry import (
    BATTERY,
    MAX_NAME,
    Problems,
    Refused,
    clean_text,
    entries,
    known_tracker,
    translated,
)
from tocsin.minesafe.shifts import DAY_STARTS, NIGHT_STARTS, SHIFTS, ZONE, shift_of, shift_start

router = APIRouter(prefix="/minesafe", include_in_schema=False)

MAX_NOTE = 500
PERSON_MISSING = "Enter the name of the person who takes the tracker."
TRACKER_MISSING = "Choose a tracker."
ALREADY_OUT = "Tracker {tracker} is already out (with {person} since {time}); take it back first."
NOT_OUT = "Tracker {tracker} is not checked out, so it cannot be taken back."
SHIFT_WANTED = "Enter a shift as YYYY-MM-DD:day or YYYY-MM-DD:night."
ALREADY_BACK = "This check-out was already taken back."
NO_CHECKOUT = "No check-out has this number."
SHIFT_NAMES = {"day": "day shift (08:00–20:00)", "night": "night shift (20:00–08:00)"}


class Again(Refused, Conflict):
    """A rule of the station refused (already out, not out): 409 in the API."""


@dataclass(frozen=True, order=True)
class Shift:
    """A shift: the local day it began and which of the two it is."""

    day: date
    name: str  # "day" or "night"

    @property
    def key(self) -> str:
        return f"{self.day.isoformat()}:{self.name}"

    @property
    def start(self) -> datetime:
        return datetime.combine(self.day, DAY_STARTS if self.name == "day" else NIGHT_STARTS, tzinfo=ZONE)

    @property
    def previous(self) -> Shift:
        return shift_at(self.start - timedelta(minutes=1))


def shift_at(moment: datetime) -> Shift:
    """The shift holding ``moment``."""
    return Shift(shift_start(moment).date(), shift_of(moment))


def parse_shift(text: str, *, field: str = "shift") -> Shift:
    """A shift typed as ``YYYY-MM-DD:day`` or ``YYYY-MM-DD:night``."""
    day, _, name = text.strip().partition(":")
    try:
        parsed = date.fromisoformat(day) if len(day) == 10 else None
    except ValueError:
        parsed = None
    if parsed is None or name not in SHIFTS:
        raise Refused(SHIFT_WANTED, field=field)
    return Shift(parsed, name)


def _local(moment: datetime) -> str:
    return moment.astimezone(ZONE).strftime("%Y-%m-%d %H:%M")


def open_checkout(db: Session, tracker: str) -> Checkout | None:
    return db.scalar(select(Checkout).where(Checkout.tracker == tracker, Checkout.in_at.is_(None)))


def _tracker(db: Session, typed: str) -> Tracker:
    if not typed.strip():
        raise Refused(TRACKER_MISSING, field="tracker")
    return known_tracker(db, the_site(), typed.strip(), field="tracker")


def check_out(db: Session, *, tracker: str, person: str, by: str, now: datetime, note: str = "") -> Checkout:
    """Hand a tracker out to a person for the current shift; refused while it is out already. Audited."""
    problems: list[Refused] = []
    row = name = remark = None
    try:
        row = _tracker(db, tracker)
    except Refused as problem:
        problems.append(problem)
    try:
        name = clean_text(person, field="person", limit=MAX_NAME, required=PERSON_MISSING)
        remark = clean_text(note, field="note", limit=MAX_NOTE)
    except Refused as problem:
        problems.append(problem)
    if problems:
        raise Problems(problems)
    assert row is not None and name is not None and remark is not None
    _refuse_if_out(db, row.id)
    shift = shift_at(now)
    checkout = Checkout(tracker=row.id, person=name, shift_day=shift.day, shift=shift.name)
    checkout.out_at, checkout.out_by, checkout.note = now, by[:100], remark
    try:
        with db.begin_nested():  # two gatehouse screens at once: the unique index decides
            db.add(checkout)
    except IntegrityError:
        _refuse_if_out(db, row.id)
        raise
    _audit(db, checkout, "minesafe.tracker_checked_out", by, now, person=name)
    return checkout


def _refuse_if_out(db: Session, tracker: str) -> None:
    already = open_checkout(db, tracker)
    if already is not None:
        raise Again(
            ALREADY_OUT, field="tracker", tracker=tracker, person=already.person, time=_local(already.out_at)
        )


def check_in(db: Session, *, tracker: str, by: str, now: datetime, note: str = "") -> Checkout:
    """Take a tracker back (its battery as last reported is kept); refused when it is not out. Audited."""
    row = _tracker(db, tracker)
    checkout = open_checkout(db, row.id)
    if checkout is None:
        raise Again(NOT_OUT, field="tracker", tracker=row.id)
    return _take_back(db, checkout, row, by=by, now=now, note=note)


def return_checkout(db: Session, *, checkout_id: int, by: str, now: datetime, note: str = "") -> Checkout:
    """Take back the tracker of one check-out (by its number)."""
    checkout = db.get(Checkout, checkout_id, with_for_update=True)
    if checkout is None:
        raise NotFound(NO_CHECKOUT, field="checkout_id")
    if checkout.in_at is not None:
        raise Again(ALREADY_BACK, field="checkout_id")
    tracker = db.get(Tracker, checkout.tracker)
    assert tracker is not None  # the foreign key
    return _take_back(db, checkout, tracker, by=by, now=now, note=note)


def _take_back(
    db: Session, checkout: Checkout, tracker: Tracker, *, by: str, now: datetime, note: str
) -> Checkout:
    remark = clean_text(note, field="note", limit=MAX_NOTE)
    checkout.in_at, checkout.in_by = max(now, checkout.out_at), by[:100]
    checkout.in_battery_state, checkout.in_battery_percent = tracker.battery_state, tracker.battery_percent
    if remark:
        checkout.note = f"{checkout.note} / {remark}"[-MAX_NOTE:] if checkout.note else remark
    db.flush()
    _audit(db, checkout, "minesafe.tracker_checked_in", by, now, battery=tracker.battery_state)
    return checkout


def _audit(db: Session, checkout: Checkout, action: str, by: str, now: datetime, **detail: Any) -> None:
    audit.record(
        db,
        at=now,
        actor=by,
        action=action,
        object_type="checkout",
        object_id=checkout.id,
        tracker=checkout.tracker,
        **detail,
    )


def of_shift(db: Session, shift: Shift) -> list[Checkout]:
    """A shift's check-outs, those still out first, then by when they went out."""
    query = select(Checkout).where(Checkout.shift_day == shift.day, Checkout.shift == shift.name)
    found = list(db.scalars(query.order_by(Checkout.out_at, Checkout.id)))
    return sorted(found, key=lambda c: c.in_at is not None)


def not_returned(db: Session, shift: Shift) -> list[Checkout]:
    """Trackers handed out before ``shift`` began and not back yet (oldest first)."""
    query = select(Checkout).where(Checkout.in_at.is_(None), Checkout.out_at < shift.start)
    return list(db.scalars(query.order_by(Checkout.out_at, Checkout.id)))


def gatehouse_part(db: Session, now: datetime) -> dict[str, Any]:
    """What the gatehouse shows of the charging station: this shift's check-outs, the trackers missing
    from earlier shifts, and the trackers the forms offer."""
    shift = shift_at(now)
    registry = entries(db, the_site(), now)
    out = {c.tracker for c in db.scalars(select(Checkout).where(Checkout.in_at.is_(None)))}
    return {
        "shift": shift,
        "shift_checkouts": of_shift(db, shift),
        "missing": not_returned(db, shift),
        "available": [e for e in registry if e.id not in out],
        "out_now": [e for e in registry if e.id in out],
        "tracker_names": {e.id: e.label for e in registry},
        "BATTERY": BATTERY,
        "SHIFT_NAMES": SHIFT_NAMES,
        "form": "",
        "typed": {},
        "done": {},
    }


def _back(request: Request, **query: Any) -> Response:
    return RedirectResponse(path_to(request, "minesafe_gatehouse", query=query) + "#station", 303)


def _refused(
    request: Request, db: Session, user: auth.StaffUser, error: DomainError, form: str, **typed: str
) -> Response:
    """The gatehouse again, the form's bad fields named (ids ``out-…``, ``in-…``), what was typed kept."""
    from tocsin.minesafe.muster import gatehouse_page  # muster imports this module for the gatehouse

    db.rollback()
    problems = error.problems if isinstance(error, Problems) else [error]
    errors = [translated(request, p) for p in problems if isinstance(p, Refused)]
    errors = [(f"{form}-{field}", message) for field, message in errors]
    return gatehouse_page(
        request, db, user, status_code=error.status_code, errors=errors, form=form, typed=typed
    )


@router.post("/gatehouse/checkouts", name="minesafe_check_out", dependencies=[Depends(check_csrf)])
def minesafe_check_out(
    request: Request,
    tracker: str = Form("", max_length=4000),
    person: str = Form("", max_length=4000),
    user: auth.StaffUser = Depends(OPERATORS),
    db: Session = DB,
) -> Response:
    """The gatehouse's "hand out" form."""
    try:
        done = check_out(db, tracker=tracker, person=person, by=user.username, now=shell_of(request).clock())
    except (Refused, Problems) as error:
        return _refused(request, db, user, error, "out", tracker=tracker, person=person)
    return _back(request, out=done.id)


@router.post("/gatehouse/returns", name="minesafe_check_in", dependencies=[Depends(check_csrf)])
def minesafe_check_in(
    request: Request,
    tracker: str = Form("", max_length=4000),
    note: str = Form("", max_length=4000),
    user: auth.StaffUser = Depends(OPERATORS),
    db: Session = DB,
) -> Response:
    """The gatehouse's "take back" form."""
    try:
        done = check_in(db, tracker=tracker, by=user.username, now=shell_of(request).clock(), note=note)
    except Refused as error:
        return _refused(request, db, user, error, "in", tracker=tracker, note=note)
    return _back(request, back=done.id)
