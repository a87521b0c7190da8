"""Sending notifications through the outbox, tracking their status, re-sending by hand, and the profile
staff keep: contact details, language, Web Push subscriptions, channels wanted per kind."""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import phonenumbers
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from tocsin.core import audit, outbox
from tocsin.core.auth.staff import StaffUser
from tocsin.core.config import get_settings
from tocsin.core.errors import Conflict, DomainError, NotFound
from tocsin.core.notify.kinds import Kind, Rendered, get, render
from tocsin.core.notify.models import (
    CHANNELS,
    CREATED,
    DELIVERED,
    EMAIL,
    PERMANENT_FAILURE,
    PUSH,
    SENDING,
    SMS,
    TECHNICAL_FAILURE,
    TEMPORARY_FAILURE,
    Notification,
    NotifyPreference,
    PushSubscription,
    StaffContact,
)

DESK = "notify"  # outbox rows of notifications, kept apart from the desks' own retention
STATUS_RESULT = "notify.status"
# Retry delays (s): an alert still undelivered after about an hour and a half has lost its point.
SCHEDULE = [60, 300, 900, 3600]
OUTCOME_STATUS = {
    outbox.RETRY: SENDING,
    outbox.DELIVERED: DELIVERED,
    outbox.REJECTED: PERMANENT_FAILURE,
    outbox.FAILED: TEMPORARY_FAILURE,
    outbox.TECHNICAL: TECHNICAL_FAILURE,
}
# The addresses people type (RFC 5322's dot-atom, ASCII): odd-but-legal quoted forms are refused rather
# than risked in a header.
EMAIL_SHAPE = re.compile(
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+"
)
MAX_EMAIL = 254


@dataclass(frozen=True)
class Address:
    """A bare recipient on one channel: an e-mail address or an E.164 phone number."""

    channel: str
    value: str
    language: str | None = None


def send(
    db: Session,
    *,
    recipient: StaffUser | Address,
    kind: Kind | str,
    context: Mapping[str, Any],
    now: datetime,
    channels: Iterable[str] | None = None,
    zone: ZoneInfo | None = None,
) -> list[Notification]:
    """Queue ``kind`` for ``recipient`` in the caller's transaction: one notification (with its outbox
    message) per channel, one per device for push. ``channels`` None: the recipient's choice for the kind
    (for a bare address, its own channel). A channel the recipient has no address for is left out.
    ``zone``: the zone times are written in (default: the kind's)."""
    kind = get(kind) if isinstance(kind, str) else kind
    if isinstance(recipient, Address):
        wanted = [recipient.channel] if channels is None or recipient.channel in channels else []
        targets: list[tuple[str, str, dict[str, str] | None]] = (
            [(recipient.channel, recipient.value, None)] if wanted else []
        )
        language, user_id = recipient.language or kind.language, None
    else:
        contact = db.get(StaffContact, recipient.id)
        wanted = list(channels) if channels is not None else channels_for(db, user_id=recipient.id, kind=kind)
        targets = _addresses(db, recipient.id, contact, wanted)
        language, user_id = (
            (contact.language if contact and contact.language else kind.language),
            recipient.id,
        )
    unknown = set(wanted) - set(CHANNELS)
    if unknown:
        raise ValueError(f"channels: unknown channel(s) {sorted(unknown)}")
    if not targets:
        return []
    values = {"public_url": get_settings().public_url.rstrip("/"), **context}
    words = render(kind, language=language, context=values, zone=zone or kind.zone(db))
    link = str(context.get("link", ""))
    return [
        _queue(db, kind=kind, target=target, words=words, link=link, user_id=user_id, now=now)
        for target in targets
    ]


def _addresses(
    db: Session, user_id: int, contact: StaffContact | None, wanted: list[str]
) -> list[tuple[str, str, dict[str, str] | None]]:
    """(channel, address, push keys) for each wanted channel the user can be reached on."""
    targets: list[tuple[str, str, dict[str, str] | None]] = []
    if EMAIL in wanted and contact and contact.email:
        targets.append((EMAIL, contact.email, None))
    if SMS in wanted and contact and contact.phone:
        targets.append((SMS, contact.phone, None))
    if PUSH in wanted:
        for device in db.scalars(
            select(PushSubscription).where(PushSubscription.user_id == user_id).order_by(PushSubscription.id)
        ):
            targets.append((PUSH, device.endpoint, {"p256dh": device.p256dh, "auth": device.auth}))
    return targets


def _queue(
    db: Session,
    *,
    kind: Kind,
    target: tuple[str, str, dict[str, str] | None],
    words: Rendered,
    link: str,
    user_id: int | None,
    now: datetime,
) -> Notification:
    """One notification row and its outbox message; the channel's gateway is the outbox's partner."""
    channel, address, keys = target
    notification = Notification(
        kind=kind.key,
        channel=channel,
        user_id=user_id,
        address=address,
        language=words.language,
        subject=words.subject,
        status=CREATED,
        status_at=now,
        created_at=now,
        attempts=0,
    )
    db.add(notification)
    db.flush()
    if channel == EMAIL:
        partner, url = "smtp", f"mailto:{address}"
        payload: dict[str, Any] = {
            "to": address,
            "subject": words.subject,
            "text": words.text,
            "html": words.html,
        }
    elif channel == SMS:
        partner, url, payload = "sms", f"tel:{address}", {"to": address, "text": words.sms()}
    else:
        partner, url = f"push:{urlsplit(address).hostname or ''}"[:40], address
        payload = {"endpoint": address, "keys": keys, "data": words.push(_absolute(link)), "ttl": 86400}
    notification.message_id = outbox.enqueue(
        db,
        desk=DESK,
        kind=kind.key,
        channel=channel,
        partner=partner,
        url=url[:500],
        payload=payload,
        stream=f"notify:{secrets.token_hex(8)}",  # each on its own: one bad address holds up no other
        subject=f"notification:{notification.id}",
        on_result=STATUS_RESULT,
        schedule=SCHEDULE,
        now=now,
    )
    return notification


def _absolute(link: str) -> str:
    """A page of this deployment as users reach it (TOCSIN_PUBLIC_URL), for a push's click."""
    return get_settings().public_url.rstrip("/") + link if link.startswith("/") else link


@outbox.on_result(STATUS_RESULT, every_attempt=True)
def record_status(db: Session, message: outbox.OutboxMessage, outcome: str, body: Any) -> None:
    """After each attempt: the notification's status, time, attempts and last answer; a push service that
    says the subscription is gone (404/410) has it deleted, so no one sends there again."""
    notification = db.scalar(select(Notification).where(Notification.message_id == message.id))
    if notification is None:
        return
    last = db.scalar(
        select(outbox.DeliveryAttempt)
        .where(outbox.DeliveryAttempt.message_id == message.id)
        .order_by(outbox.DeliveryAttempt.id.desc())
        .limit(1)
    )
    notification.status = OUTCOME_STATUS[outcome]
    notification.attempts = message.attempts
    if last is not None:
        notification.status_at = last.at
        code = "" if last.status_code is None else f"{last.status_code} "
        notification.last_answer = (code + (last.error or last.body or "")).strip()[:1000] or None
    if outcome == outbox.REJECTED and message.channel == outbox.PUSH:
        db.execute(
            delete(PushSubscription).where(PushSubscription.endpoint == message.payload.get("endpoint"))
        )


def resend(db: Session, *, notification_id: int, now: datetime, actor: str) -> Notification:
    """Send a finished notification again (its outbox message back in the queue, a fresh retry round)."""
    notification = db.get(Notification, notification_id)
    if notification is None:
        raise NotFound("No notification has this number.", field="notification")
    if notification.status in (CREATED, SENDING):
        raise Conflict("This notification is still being sent.", field="notification")
    if notification.message_id is None:
        raise Conflict("This notification's message is no longer kept.", field="notification")
    finished = (outbox.DELIVERED, outbox.REJECTED, outbox.FAILED)
    outbox.retry_by_hand(db, now=now, ids=[notification.message_id], statuses=finished)
    notification.status, notification.status_at = CREATED, now
    audit.record(
        db,
        at=now,
        actor=actor,
        action="notify.resent",
        object_type="notification",
        object_id=notification.id,
        kind=notification.kind,
        channel=notification.channel,
    )
    return notification


def purge(db: Session, *, before: datetime) -> int:
    """Retention: forget notifications (and their messages) created before ``before``."""
    count = db.execute(delete(Notification).where(Notification.created_at < before))
    outbox.purge(db, desk=DESK, before=before)
    return int(getattr(count, "rowcount", 0) or 0)


# The profile


def channels_for(db: Session, *, user_id: int, kind: Kind) -> list[str]:
    """The channels a user wants for ``kind``: their choice, or the kind's defaults."""
    choice = db.get(NotifyPreference, (user_id, kind.key))
    if choice is None:
        return list(kind.default_channels)
    return [c for c in CHANNELS if getattr(choice, c)]


def checked_email(value: str) -> str | None:
    """An e-mail address as typed (trimmed), None when empty; DomainError naming ``email`` otherwise."""
    value = value.strip()
    if not value:
        return None
    if len(value) > MAX_EMAIL or not EMAIL_SHAPE.fullmatch(value):
        raise DomainError("Enter an e-mail address such as name@example.org.", field="email")
    return value


def checked_phone(value: str, *, region: str) -> str | None:
    """A mobile or fixed number in E.164 (``+33612345678``), None when empty; DomainError naming
    ``phone`` otherwise. A number without +country is read in ``region``."""
    value = value.strip()
    if not value:
        return None
    try:
        number = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException:
        number = None
    if number is None or not phonenumbers.is_valid_number(number):
        raise DomainError("Enter a phone number such as +33 6 12 34 56 78.", field="phone")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def save_profile(
    db: Session,
    *,
    user_id: int,
    email: str | None,
    phone: str | None,
    language: str | None,
    choices: Mapping[str, Iterable[str]],
    now: datetime,
) -> None:
    """Store checked contact details and, per kind key, the channels wanted."""
    contact = db.get(StaffContact, user_id) or StaffContact(user_id=user_id)
    contact.email, contact.phone, contact.language, contact.updated_at = email, phone, language, now
    db.add(contact)
    for key, channels in choices.items():
        wanted = set(channels)
        row = db.get(NotifyPreference, (user_id, key)) or NotifyPreference(user_id=user_id, kind=key)
        row.email, row.sms, row.push = EMAIL in wanted, SMS in wanted, PUSH in wanted
        db.add(row)


def subscribe(
    db: Session,
    *,
    user_id: int,
    subscription: Mapping[str, Any],
    label: str,
    now: datetime,
    allow_http: bool = False,
) -> PushSubscription:
    """Keep a browser's push subscription (PushSubscription.toJSON()); the same endpoint is replaced.

    Only https endpoints are taken (push services all are): the worker posts to whatever is stored, so
    an http or odd URL would let a signed-in user point it at an internal service.
    """
    endpoint = subscription.get("endpoint")
    keys = subscription.get("keys")
    if not isinstance(endpoint, str) or len(endpoint) > 500:
        raise DomainError("the subscription has no endpoint", field="endpoint")
    parts = urlsplit(endpoint)
    schemes = ("https", "http") if allow_http else ("https",)
    if parts.scheme not in schemes or not parts.hostname or parts.username or parts.password:
        raise DomainError("the endpoint must be an https URL of a push service", field="endpoint")
    if not isinstance(keys, dict) or not all(
        isinstance(keys.get(k), str) and re.fullmatch(r"[A-Za-z0-9_-]+={0,2}", keys[k])
        for k in ("p256dh", "auth")
    ):
        raise DomainError("the subscription's keys p256dh and auth are missing or malformed", field="keys")
    if len(keys["p256dh"]) > 120 or len(keys["auth"]) > 40:
        raise DomainError("the subscription's keys are too long", field="keys")
    row = db.scalar(select(PushSubscription).where(PushSubscription.endpoint == endpoint))
    if row is None:
        row = PushSubscription(endpoint=endpoint, created_at=now)
        db.add(row)
    row.user_id, row.p256dh, row.auth, row.label = user_id, keys["p256dh"], keys["auth"], label[:120]
    db.flush()
    return row


def unsubscribe(db: Session, *, user_id: int, subscription_id: int) -> bool:
    """Forget one of the user's own devices; False when it is not theirs (or gone)."""
    result = db.execute(
        delete(PushSubscription).where(
            PushSubscription.id == subscription_id, PushSubscription.user_id == user_id
        )
    )
    return bool(getattr(result, "rowcount", 0))
