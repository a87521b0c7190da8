"""Staff pages of notifications: the list at ``/notifications`` (operators and admins) with re-send after
a confirmation, and each user's profile at ``/account`` (contact details, language, channels per kind,
Web Push devices, a test message)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import phonenumbers
from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tocsin.core.auth.staff import StaffUser
from tocsin.core.errors import DomainError
from tocsin.core.i18n import LANGUAGES
from tocsin.core.notify import kinds, service
from tocsin.core.notify.models import (
    CHANNELS,
    EMAIL,
    PUSH,
    SMS,
    STATUSES,
    Notification,
    PushSubscription,
    StaffContact,
)
from tocsin.core.web.csrf import check_csrf
from tocsin.core.web.inputs import BIGINT_KEY, INTEGER_KEY, Inputs, Pager, names_a_row, notice_count
from tocsin.core.web.sessions import require_staff
from tocsin.core.web.shell import DB, formatter_of, path_to, shell_of

router = APIRouter(include_in_schema=False)
OPERATORS = require_staff("operator")
SIGNED_IN = require_staff()
CHANNEL_LABELS = {EMAIL: "E-mail", SMS: "SMS", PUSH: "Push"}
STATUS_LABELS = {
    "created": "Queued",
    "sending": "Sending",
    "delivered": "Delivered",
    "temporary-failure": "Temporary failure",
    "permanent-failure": "Permanent failure",
    "technical-failure": "Technical failure",
}
MAX_DEVICES = 20  # per user: enough for every browser one person uses


def _labels(request: Request) -> dict[str, Any]:
    """Translated names of channels, statuses and kinds, the push key."""
    shell = shell_of(request)
    tr = shell.gettext
    return {
        "channel_labels": {k: tr(request, v) for k, v in CHANNEL_LABELS.items()},
        "status_labels": {k: tr(request, v) for k, v in STATUS_LABELS.items()},
        "kind_labels": {k.key: tr(request, k.label) for k in _all_kinds(request)},
        "push_key": _push_key(shell.settings.vapid_private_key),
    }


def _push_key(private_pem: str | None) -> str:
    """The VAPID public key browsers subscribe with ('' when push is not set up)."""
    if not private_pem:
        return ""
    from tocsin.core.outbox.transports.push import load_vapid_key, public_key_of

    try:
        return public_key_of(load_vapid_key(private_pem))
    except ValueError:
        return ""


def _all_kinds(request: Request) -> list[kinds.Kind]:
    """The core's kinds and those of the enabled desks."""
    from tocsin.core.notify import CORE_KINDS

    return [*CORE_KINDS, *[k for desk in shell_of(request).desks for k in desk.notifications]]


def _kinds_for(request: Request, user: StaffUser) -> list[kinds.Kind]:
    roles = set(user.roles)
    return [k for k in _all_kinds(request) if not k.roles or roles & set(k.roles) or "admin" in roles]


# The list


@router.get("/notifications", response_class=HTMLResponse)
def notifications(
    request: Request,
    kind: str = "",
    channel: str = "",
    status: str = "",
    since: str = "",
    until: str = "",
    page: str = "1",
    resent: str = "",
    user: StaffUser = Depends(OPERATORS),
    db: Session = DB,
) -> Response:
    """Notifications sent, newest first, by kind, channel, status and local days."""
    inputs = Inputs(request)
    zone = inputs.zone
    known = [k.key for k in _all_kinds(request)]
    kind = inputs.choice("kind", kind, known, "Choose a kind from the list.")
    channel = inputs.choice("channel", channel, CHANNELS, "Choose a channel from the list.")
    status = inputs.choice("status", status, STATUSES, "Choose a status from the list.")
    first, last = inputs.day("since", since), inputs.day("until", until)
    inputs.order("until", first, last)
    number = inputs.page(page)
    query = select(Notification)
    if kind:
        query = query.where(Notification.kind == kind)
    if channel:
        query = query.where(Notification.channel == channel)
    if status:
        query = query.where(Notification.status == status)
    if first:
        query = query.where(Notification.created_at >= datetime.combine(first, datetime.min.time(), zone))
    if last:
        end = datetime.combine(last + timedelta(days=1), datetime.min.time(), zone)
        query = query.where(Notification.created_at < end)
    filters = {"kind": kind, "channel": channel, "status": status, "since": since, "until": until}
    total = 0 if inputs.errors else db.scalar(select(func.count()).select_from(query.subquery())) or 0
    pager = Pager(number, total, filters)
    rows = []
    if not inputs.errors:
        ordered = query.order_by(Notification.created_at.desc(), Notification.id.desc())
        rows = list(db.scalars(ordered.offset(pager.offset).limit(pager.size)))
    users = dict(
        db.execute(
            select(StaffUser.id, StaffUser.username).where(
                StaffUser.id.in_({r.user_id for r in rows if r.user_id})
            )
        ).all()
    )
    return shell_of(request).render(
        request,
        "notifications.html",
        status_code=400 if inputs.errors else 200,
        errors=inputs.errors,
        rows=rows,
        users=users,
        pager=pager,
        filters=filters,
        kinds=known,
        resent=notice_count(resent, highest=1),
        **_labels(request),
    )


def _notification(request: Request, db: Session, notification_id: int) -> Notification:
    row = db.get(Notification, notification_id) if names_a_row(notification_id, highest=BIGINT_KEY) else None
    if row is None:
        raise HTTPException(404, shell_of(request).gettext(request, "No notification has this number."))
    return row


@router.get("/notifications/{notification_id}/resend", response_class=HTMLResponse)
def confirm_resend(
    request: Request, notification_id: int, user: StaffUser = Depends(OPERATORS), db: Session = DB
) -> Response:
    """Ask before sending a notification again: what goes out, to whom, on which channel."""
    row = _notification(request, db, notification_id)
    recipient = (
        db.scalar(select(StaffUser.username).where(StaffUser.id == row.user_id)) if row.user_id else None
    )
    return shell_of(request).render(
        request, "notification_resend.html", row=row, recipient=recipient, **_labels(request)
    )


@router.post("/notifications/{notification_id}/resend", dependencies=[Depends(check_csrf)])
def resend(
    request: Request, notification_id: int, user: StaffUser = Depends(OPERATORS), db: Session = DB
) -> Response:
    """Send it again (a notification still being sent is a 409, whose page says so)."""
    row = _notification(request, db, notification_id)
    service.resend(db, notification_id=row.id, now=shell_of(request).clock(), actor=user.username)
    return RedirectResponse(path_to(request, "notifications", query={"resent": 1}), status_code=303)


# The profile


@router.get("/account", response_class=HTMLResponse)
def account(
    request: Request,
    saved: str = "",
    tested: str = "",
    user: StaffUser = Depends(SIGNED_IN),
    db: Session = DB,
) -> Response:
    contact = db.get(StaffContact, user.id)
    phone = ""
    if contact and contact.phone:
        phone = phonenumbers.format_number(
            phonenumbers.parse(contact.phone), phonenumbers.PhoneNumberFormat.INTERNATIONAL
        )
    visible = _kinds_for(request, user)
    values = {
        "email": contact.email or "" if contact else "",
        "phone": phone,
        "language": contact.language or "" if contact else "",
    }
    chosen = {k.key: set(service.channels_for(db, user_id=user.id, kind=k)) for k in visible}
    return _account_page(
        request, db, user, values, chosen, saved=saved == "1", tested=notice_count(tested, highest=100)
    )


def _account_page(
    request: Request,
    db: Session,
    user: StaffUser,
    values: dict[str, str],
    chosen: dict[str, set[str]],
    *,
    errors: list[tuple[str, str]] | None = None,
    saved: bool = False,
    tested: int | None = None,
) -> Response:
    devices = list(
        db.scalars(
            select(PushSubscription).where(PushSubscription.user_id == user.id).order_by(PushSubscription.id)
        )
    )
    return shell_of(request).render(
        request,
        "account.html",
        status_code=400 if errors else 200,
        errors=errors or [],
        values=values,
        chosen=chosen,
        visible=_kinds_for(request, user),
        channels=CHANNELS,
        devices=devices,
        language_names={code: LANGUAGES[code] for code in shell_of(request).catalogs.languages},
        saved=saved,
        tested=tested,
        **_labels(request),
    )


@router.post("/account", dependencies=[Depends(check_csrf)])
def save_account(
    request: Request,
    email: str = Form(""),
    phone: str = Form(""),
    language: str = Form(""),
    choice: list[str] = Form([]),
    user: StaffUser = Depends(SIGNED_IN),
    db: Session = DB,
) -> Response:
    """Contact details and the channels wanted per kind; each wrong field is named with the reason."""
    shell = shell_of(request)
    errors: list[tuple[str, str]] = []
    checked: dict[str, str | None] = {}
    for name, check in (
        ("email", lambda: service.checked_email(email)),
        ("phone", lambda: service.checked_phone(phone, region=shell.settings.phone_region)),
    ):
        try:
            checked[name] = check()
        except DomainError as error:
            errors.append((name, shell.gettext(request, error.reason)))
    if language and language not in shell.catalogs.languages:
        errors.append(("language", shell.gettext(request, "Choose a language from the list.")))
    visible = _kinds_for(request, user)
    chosen: dict[str, set[str]] = {k.key: set() for k in visible}
    for value in choice:
        key, _, channel = value.rpartition(":")
        if key not in chosen or channel not in CHANNELS:
            errors.append(("choices", shell.gettext(request, "Choose channels from the list.")))
            break
        chosen[key].add(channel)
    if errors:
        values = {"email": email, "phone": phone, "language": language}
        return _account_page(request, db, user, values, chosen, errors=errors)
    service.save_profile(
        db,
        user_id=user.id,
        email=checked["email"],
        phone=checked["phone"],
        language=language or None,
        choices=chosen,
        now=shell.clock(),
    )
    return RedirectResponse(path_to(request, "account", query={"saved": 1}), status_code=303)


@router.post("/account/test", dependencies=[Depends(check_csrf)])
def send_test(request: Request, user: StaffUser = Depends(SIGNED_IN), db: Session = DB) -> Response:
    """Send myself the test message on the channels I chose for it."""
    from tocsin.core.notify import TEST

    now = shell_of(request).clock()
    context = {"name": user.display_name, "at": now}
    sent = service.send(
        db, recipient=user, kind=TEST, context=context, now=now, zone=formatter_of(request).zone
    )
    return RedirectResponse(path_to(request, "account", query={"tested": len(sent)}), status_code=303)


@router.post("/account/devices/{device_id}/delete", dependencies=[Depends(check_csrf)])
def forget_device(
    request: Request, device_id: int, user: StaffUser = Depends(SIGNED_IN), db: Session = DB
) -> Response:
    """Stop push notifications to one of my devices."""
    if not names_a_row(device_id, highest=INTEGER_KEY) or not service.unsubscribe(
        db, user_id=user.id, subscription_id=device_id
    ):
        raise HTTPException(404, shell_of(request).gettext(request, "No device of yours has this number."))
    return RedirectResponse(path_to(request, "account", query={"saved": 1}), status_code=303)


@router.post("/api/account/devices", dependencies=[Depends(check_csrf)])
async def add_device(request: Request, user: StaffUser = Depends(SIGNED_IN)) -> Response:
    """Keep this browser's push subscription (JSON: ``{"subscription": PushSubscription.toJSON()}``)."""
    try:
        body = await request.json()
    except ValueError:
        raise DomainError("the body must be JSON", field="subscription") from None
    subscription = body.get("subscription") if isinstance(body, dict) else None
    if not isinstance(subscription, dict):
        raise DomainError("give the browser's subscription", field="subscription")
    shell = shell_of(request)
    label = request.headers.get("user-agent", "")[:120]

    def store() -> int:
        with shell.database.session() as db:
            count = db.scalar(select(func.count()).where(PushSubscription.user_id == user.id)) or 0
            if count >= MAX_DEVICES:
                raise DomainError(f"{MAX_DEVICES} devices at most; remove one first", field="subscription")
            row = service.subscribe(
                db,
                user_id=user.id,
                subscription=subscription,
                label=label,
                now=shell.clock(),
                allow_http=shell.settings.push_http_endpoints,
            )
            return row.id

    from starlette.concurrency import run_in_threadpool

    return JSONResponse({"id": await run_in_threadpool(store)}, status_code=201)
