"""Calling people about urgent alarms: an SOS or a DANGER alarm goes, by SMS (the masts carry GSM modems;
the quarry has no internet, so no push service), to the first person on the shift's duty list — the
shift supervisor — in the transaction that raises it; every dispatch screen sees it live already. An
alarm nobody acknowledges within ``ESCALATE_AFTER`` goes to the next person on the list, and so on
down the list (the ``escalate`` job, every ``CHECK_EVERY`` seconds). Every call is audited."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from tocsin.core import audit, notify
from tocsin.core.auth.staff import StaffUser
from tocsin.core.scheduler import Job
from tocsin.minesafe.models import Alarm, Duty
from tocsin.minesafe.shifts import SHIFTS, shift_of
from tocsin.minesafe.site import load_configured_site
from tocsin.minesafe.words import ALARM_TYPES, LEVELS, catalog

TEMPLATES = Path(__file__).parent / "templates"
ESCALATE_AFTER = timedelta(seconds=120)
CHECK_EVERY = 15
SYSTEM = "minesafe"  # the actor of automatic calls in the audit trail

ALARM = notify.declare(
    "minesafe.alarm",
    label="An SOS or danger alarm on the site (escalated when nobody acknowledges it)",
    templates=TEMPLATES,
    default_channels=(notify.SMS,),
    roles=("operator", "viewer"),
    language="ru",
    timezone="Asia/Yekaterinburg",
)


def urgent(alarm: Alarm) -> bool:
    """Alarms someone must be called about: SOS, and every DANGER."""
    return alarm.type == "sos" or alarm.level == "DANGER"


def duty_list(db: Session, site: str, shift: str) -> list[StaffUser]:
    """The shift's duty list, in order (inactive accounts left out)."""
    rows = db.execute(
        select(StaffUser)
        .join(Duty, Duty.user_id == StaffUser.id)
        .where(Duty.site == site, Duty.shift == shift, StaffUser.active.is_(True))
        .order_by(Duty.position)
    )
    return list(rows.scalars())


def set_duty(db: Session, *, site: str, shift: str, usernames: list[str], actor: str, now: datetime) -> None:
    """Replace a shift's duty list (first: the shift supervisor); audited."""
    if shift not in SHIFTS:
        raise ValueError(f"shift: {shift!r} is not one of {SHIFTS}")
    users = {u.username: u for u in db.scalars(select(StaffUser).where(StaffUser.username.in_(usernames)))}
    unknown = [name for name in usernames if name not in users]
    if unknown:
        raise ValueError(f"users: no staff account named {', '.join(unknown)}")
    if len(set(usernames)) != len(usernames):
        raise ValueError("users: a person appears twice on the list")
    for row in db.scalars(select(Duty).where(Duty.site == site, Duty.shift == shift)):
        db.delete(row)
    db.flush()
    for position, name in enumerate(usernames):
        db.add(Duty(site=site, shift=shift, position=position, user_id=users[name].id))
    audit.record(
        db, at=now, actor=actor, action="minesafe.duty_set", object_type="duty", object_id=f"{site}:{shift}"
    )


def first_call(db: Session, alarms: Iterable[Alarm], *, now: datetime) -> None:
    """Call the first person on duty about each urgent alarm not called about yet."""
    for alarm in alarms:
        if urgent(alarm) and alarm.state == "raised" and alarm.notified_step is None:
            _call(db, alarm, start=0, now=now)


def escalate(db: Session, *, now: datetime) -> str:
    """Alarms still unacknowledged ``ESCALATE_AFTER`` after the last call go to the next person."""
    waiting = db.scalars(
        select(Alarm).where(
            Alarm.state == "raised",
            Alarm.notified_step.is_not(None),
            Alarm.notified_at <= now - ESCALATE_AFTER,
        )
    )
    moved = 0
    for alarm in waiting:
        assert alarm.notified_step is not None
        moved += _call(db, alarm, start=alarm.notified_step + 1, now=now)
    return f"{moved} alarm(s) escalated"


ESCALATE = Job("minesafe.escalate_alarms", CHECK_EVERY, escalate)


def _call(db: Session, alarm: Alarm, *, start: int, now: datetime) -> int:
    """Notify the first person from ``start`` on the list who can be reached; 1 if someone was."""
    people = duty_list(db, alarm.site, shift_of(alarm.raised_at))
    for step in range(start, len(people)):
        sent = notify.send(db, recipient=people[step], kind=ALARM, context=_context(alarm, step), now=now)
        if sent:
            alarm.notified_step, alarm.notified_at = step, now
            action = "minesafe.alarm_called" if step == 0 else "minesafe.alarm_escalated"
            audit.record(
                db,
                at=now,
                actor=SYSTEM,
                action=action,
                object_type="alarm",
                object_id=alarm.id,
                to=people[step].username,
                step=step,
            )
            return 1
    # Nobody (more) to call: the alarm keeps waiting on every dispatch screen; stop looking.
    alarm.notified_step, alarm.notified_at = max(len(people) - 1, start), None
    return 0


@cache
def _labels() -> dict[str, str]:
    """Trackers' names from the site file (one site per deployment so far: the example quarry)."""
    return load_configured_site().labels()


def _context(alarm: Alarm, step: int) -> dict[str, Any]:
    return {
        "alarm": {
            "site": alarm.site,
            "type_name": ALARM_TYPES.get(alarm.type, alarm.type),
            "level_name": LEVELS.get(alarm.level, alarm.level),
            "parties": ", ".join(_labels().get(tracker) or tracker for tracker in alarm.trackers),
            "zone": alarm.zone or "",
            "raised_at": alarm.raised_at,
            "step": step,
        },
        "words": catalog(),
        "link": f"/minesafe/#alarm-{alarm.id}",
    }
