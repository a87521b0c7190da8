"""Notifications to people, through the outbox: ``send(db, recipient=, kind=, context=, now=)`` queues one
notification per channel in the caller's transaction, rendered from the kind's template files in the
recipient's language; each notification then shows its delivery status (created, sending, delivered,
temporary-, permanent- or technical-failure) and can be re-sent by hand.

Modules: ``models`` (tables), ``kinds`` (declaring kinds, rendering), ``service`` (sending, status,
profile), ``pages`` (the ``/notifications`` list and the ``/account`` profile).
"""

from tocsin.core.config import get_settings
from tocsin.core.notify.kinds import CORE_TEMPLATES, Kind, Rendered, declare, get, known, render
from tocsin.core.notify.models import (
    CHANNELS,
    CREATED,
    DELIVERED,
    EMAIL,
    PERMANENT_FAILURE,
    PUSH,
    SENDING,
    SMS,
    STATUSES,
    TECHNICAL_FAILURE,
    TEMPORARY_FAILURE,
    Notification,
    NotifyPreference,
    PushSubscription,
    StaffContact,
)
from tocsin.core.notify.service import (
    Address,
    channels_for,
    checked_email,
    checked_phone,
    purge,
    resend,
    save_profile,
    send,
    subscribe,
    unsubscribe,
)

# The core's own kind: a test message staff send themselves from their profile to check their channels.
TEST = declare(
    "core.test",
    label="Test message from my profile",
    templates=CORE_TEMPLATES,
    default_channels=(EMAIL,),
    zone_of=lambda db: get_settings().timezone or "UTC",  # TOCSIN_TIMEZONE, the shell pages' zone
)
CORE_KINDS = (TEST,)

__all__ = [
    "CHANNELS",
    "CORE_KINDS",
    "CREATED",
    "DELIVERED",
    "EMAIL",
    "PERMANENT_FAILURE",
    "PUSH",
    "SENDING",
    "SMS",
    "STATUSES",
    "TECHNICAL_FAILURE",
    "TEMPORARY_FAILURE",
    "TEST",
    "Address",
    "Kind",
    "Notification",
    "NotifyPreference",
    "PushSubscription",
    "Rendered",
    "StaffContact",
    "channels_for",
    "checked_email",
    "checked_phone",
    "declare",
    "get",
    "known",
    "purge",
    "render",
    "resend",
    "save_profile",
    "send",
    "subscribe",
    "unsubscribe",
]
