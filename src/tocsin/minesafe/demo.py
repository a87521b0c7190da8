"""The minesafe desk's demo data: the quarry's duty lists, so urgent alarms have someone to call."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from tocsin.core.auth.staff import StaffUser
from tocsin.core.notify.models import StaffContact
from tocsin.minesafe import alerts
from tocsin.minesafe.shifts import SHIFTS
from tocsin.minesafe.site import load_configured_site

# Invented numbers. The demo configures no SMS gateway: its calls show on the notifications page as
# technical failures naming the setting to give (TOCSIN_SMS_URL).
DUTY = {"operateur": "+79000000001", "admin": "+79000000002"}


def load_demo(db: Session, *, now: datetime) -> str:
    users = {u.username: u for u in db.scalars(select(StaffUser).where(StaffUser.username.in_(DUTY)))}
    names = [name for name in DUTY if name in users]
    for name in names:
        contact = db.get(StaffContact, users[name].id) or StaffContact(user_id=users[name].id)
        contact.phone, contact.updated_at = contact.phone or DUTY[name], now
        db.add(contact)
    site = load_configured_site().name
    for shift in SHIFTS:
        alerts.set_duty(db, site=site, shift=shift, usernames=names, actor="demo", now=now)
    return f"duty lists of {site}: {', '.join(names) or 'nobody'} (SOS and danger alarms by SMS)"
