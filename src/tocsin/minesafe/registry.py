"""The device registry (``/minesafe/trackers``): every tracker — the site file's radio trackers, the phones
seen, any other stored row — with its class, who wears it (a person's name and personnel number) or what
carries it (a vehicle's name and fleet number), its battery and when it was last seen. Viewers read it,
operators edit the name and the assignment; every change is audited.

The class is not edited here: the engine takes it from the site file (radio trackers) or the phone list,
and a registry saying otherwise would only mislead the people reading it."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from tocsin.core import audit, auth
from tocsin.core.errors import DomainError
from tocsin.core.web import DB, check_csrf, path_to, shell_of
from tocsin.minesafe.model import Kind
from tocsin.minesafe.models import Tracker
from tocsin.minesafe.pages import KINDS, OPERATORS, READERS, _natural, the_site
from tocsin.minesafe.site import Site

router = APIRouter(prefix="/minesafe", include_in_schema=False)

MAX_NAME = 120
MAX_NUMBER = 20
MAX_TRACKER_ID = 80
_NUMBER = re.compile(r"[0-9A-Za-zА-Яа-яЁё№/\-. ]+")
BATTERY = {"ok": "Both cells charged", "first_empty": "First cell empty", "both_empty": "Both cells empty"}

TOO_LONG = "Enter at most {limit} characters."
CONTROL = "Remove the line breaks, tabs and other control characters."
NUMBER_SHAPE = "Enter letters, digits, dashes, slashes or dots only."
NAME_FOR_NUMBER = "Enter the name as well as the number."
UNKNOWN_TRACKER = "No tracker of the registry has this number."


class Refused(DomainError):
    """A rule said no, with a message for people (English, translated at the page) and its values."""

    def __init__(self, message: str, *, field: str, **values: Any) -> None:
        super().__init__(message.format(**values), field=field)
        self.message, self.values = message, values


def clean_text(value: str, *, field: str, limit: int, required: str | None = None) -> str:
    """Typed text as stored: stripped, printable, at most ``limit`` characters; ``required`` is the message
    when it is empty and must not be."""
    text = value.strip()
    if not text and required:
        raise Refused(required, field=field)
    if not text.isprintable():
        raise Refused(CONTROL, field=field)
    if len(text) > limit:
        raise Refused(TOO_LONG, field=field, limit=limit)
    return text


@dataclass(frozen=True)
class Entry:
    """A tracker as the registry lists it (``stored`` is None for a site-file tracker never heard)."""

    id: str
    site: str
    kind: str
    label: str
    stored: Tracker | None
    seen_ago: timedelta | None

    @property
    def person(self) -> bool:
        return self.kind == Kind.PERSON.value

    @property
    def phone(self) -> bool:
        return self.id.startswith("phone:")

    @property
    def anchor(self) -> str:
        return "tracker-" + "".join(c if c.isalnum() else "-" for c in self.id)

    @property
    def assigned_to(self) -> str:
        return self.stored.assigned_to if self.stored else ""

    @property
    def personnel_no(self) -> str:
        return self.stored.personnel_no if self.stored else ""


def entries(db: Session, site: Site, now: datetime) -> list[Entry]:
    """Every tracker of the registry: the site file's, then phones and others stored, in number order."""
    stored = {t.id: t for t in db.scalars(select(Tracker))}
    found = []
    for number, info in site.trackers.items():
        key = site.tracker_key(number)
        row = stored.pop(key, None)
        found.append(_entry(key, site.name, info.kind.value, info.label, row, now))
    found += [_entry(key, row.site, row.kind, "", row, now) for key, row in stored.items()]
    return sorted(found, key=lambda e: (e.phone, _natural(e.id)))


def _entry(key: str, site: str, kind: str, label: str, row: Tracker | None, now: datetime) -> Entry:
    seen = None if row is None or row.last_at is None else max(now - row.last_at, timedelta(0))
    return Entry(key, site, row.kind if row else kind, (row.label if row else "") or label, row, seen)


def known_tracker(db: Session, site: Site, tracker_id: str, *, field: str = "tracker") -> Tracker:
    """A tracker of the registry as a stored row (made from the site file for one never heard yet)."""
    if len(tracker_id) > MAX_TRACKER_ID:
        raise Refused(UNKNOWN_TRACKER, field=field)
    row = db.get(Tracker, tracker_id)
    if row is not None:
        return row
    for number, info in site.trackers.items():
        if site.tracker_key(number) == tracker_id:
            row = Tracker(
                id=tracker_id, site=site.name, kind=info.kind.value, label="", sos=False, silent=False
            )
            row.assigned_to, row.personnel_no = "", ""
            db.add(row)
            db.flush()
            return row
    raise Refused(UNKNOWN_TRACKER, field=field)


def update_tracker(
    db: Session,
    *,
    site: Site,
    tracker_id: str,
    label: str,
    assigned_to: str,
    personnel_no: str,
    by: str,
    now: datetime,
) -> Tracker:
    """Name a tracker and say who or what carries it; audited with what changed (before and after)."""
    tracker = known_tracker(db, site, tracker_id, field="tracker")
    problems: list[Refused] = []
    values: dict[str, str] = {}
    for field, value, limit in (
        ("label", label, MAX_NAME),
        ("assigned_to", assigned_to, MAX_NAME),
        ("personnel_no", personnel_no, MAX_NUMBER),
    ):
        try:
            values[field] = clean_text(value, field=field, limit=limit)
        except Refused as problem:
            problems.append(problem)
    number = values.get("personnel_no", "")
    if number and not _NUMBER.fullmatch(number):
        problems.append(Refused(NUMBER_SHAPE, field="personnel_no"))
    if number and "assigned_to" in values and not values["assigned_to"]:
        problems.append(Refused(NAME_FOR_NUMBER, field="assigned_to"))
    if problems:
        raise Problems(problems)
    site_label = site.labels().get(tracker.id, "")
    if values["label"] == site_label:
        values["label"] = ""  # the site file's name: kept there, not copied
    changed = {
        field: [getattr(tracker, field), value]
        for field, value in values.items()
        if getattr(tracker, field) != value
    }
    for field, (_, value) in changed.items():
        setattr(tracker, field, value)
    if changed:
        audit.record(
            db,
            at=now,
            actor=by,
            action="minesafe.tracker_updated",
            object_type="tracker",
            object_id=tracker.id,
            changed=changed,
        )
    return tracker


class Problems(DomainError):
    """Several fields refused at once (a form shows them all)."""

    def __init__(self, problems: list[Refused]) -> None:
        super().__init__(problems[0].reason, field=problems[0].field)
        self.problems = problems


def translated(request: Request, problem: Refused) -> tuple[str, str]:
    """A refusal as the error summary shows it: (field, message in the reader's language)."""
    text = shell_of(request).gettext(request, problem.message)
    return problem.field or "", text.format(**problem.values) if problem.values else text


def _page(
    request: Request,
    db: Session,
    user: auth.StaffUser,
    *,
    editing: Entry | None = None,
    typed: dict[str, str] | None = None,
    errors: list[tuple[str, str]] | None = None,
    saved: str = "",
    status_code: int = 200,
) -> Response:
    shell = shell_of(request)
    now = shell.clock()
    site = the_site()
    return shell.render(
        request,
        "minesafe/trackers.html",
        status_code=status_code,
        site=site,
        now=now,
        entries=entries(db, site, now),
        editing=editing,
        typed=typed or {},
        errors=errors or [],
        saved=saved,
        can_edit=bool(set(user.roles) & {"operator", "admin"}),
        KINDS=KINDS,
        BATTERY=BATTERY,
        current="trackers",
    )


@router.get("/trackers", response_class=HTMLResponse, name="minesafe_trackers")
def minesafe_trackers(
    request: Request, saved: str = "", user: auth.StaffUser = Depends(READERS), db: Session = DB
) -> Response:
    """The device registry: every tracker, its assignment, battery and last fix."""
    shown = saved if db.get(Tracker, saved[:MAX_TRACKER_ID]) is not None else ""
    return _page(request, db, user, saved=shown)


def _editable(request: Request, db: Session, tracker_id: str) -> Entry:
    site = the_site()
    now = shell_of(request).clock()
    for entry in entries(db, site, now):
        if entry.id == tracker_id:
            return entry
    raise HTTPException(404, shell_of(request).gettext(request, UNKNOWN_TRACKER))


@router.get("/trackers/{tracker_id}/edit", response_class=HTMLResponse, name="minesafe_tracker_edit")
def minesafe_tracker_edit(
    request: Request, tracker_id: str, user: auth.StaffUser = Depends(OPERATORS), db: Session = DB
) -> Response:
    """The edit form of one tracker, filled with what is stored."""
    entry = _editable(request, db, tracker_id)
    typed = {"label": entry.label, "assigned_to": entry.assigned_to, "personnel_no": entry.personnel_no}
    return _page(request, db, user, editing=entry, typed=typed)


@router.post(
    "/trackers/{tracker_id}",
    name="minesafe_tracker_save",
    dependencies=[Depends(check_csrf)],
)
def minesafe_tracker_save(
    request: Request,
    tracker_id: str,
    label: str = Form("", max_length=4000),
    assigned_to: str = Form("", max_length=4000),
    personnel_no: str = Form("", max_length=4000),
    user: auth.StaffUser = Depends(OPERATORS),
    db: Session = DB,
) -> Response:
    """Save a tracker's name and assignment; a bad field comes back named, with what was typed."""
    entry = _editable(request, db, tracker_id)
    typed = {"label": label, "assigned_to": assigned_to, "personnel_no": personnel_no}
    try:
        update_tracker(
            db,
            site=the_site(),
            tracker_id=entry.id,
            by=user.username,
            now=shell_of(request).clock(),
            **typed,
        )
    except Problems as refused:
        errors = [translated(request, problem) for problem in refused.problems]
        db.rollback()
        return _page(request, db, user, editing=entry, typed=typed, errors=errors, status_code=400)
    target = path_to(request, "minesafe_trackers", query={"saved": entry.id})
    return RedirectResponse(f"{target}#{entry.anchor}", 303)
