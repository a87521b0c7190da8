"""One module per channel, each answering an ``Answer`` whose verdict says delivered, rejected for good,
worth another try, or technical; ``configured`` builds the transports a worker's settings allow."""

from __future__ import annotations

import httpx

from tocsin.core.config import Settings
from tocsin.core.outbox.models import EMAIL, PUSH, SMS
from tocsin.core.outbox.transports.base import Answer, Missing, Transport, classify, http_verdict
from tocsin.core.outbox.transports.http import HttpTransport, TokenSource, TokenUnavailable

__all__ = [
    "Answer",
    "HttpTransport",
    "Missing",
    "TokenSource",
    "TokenUnavailable",
    "Transport",
    "classify",
    "configured",
    "http_verdict",
]


def configured(settings: Settings, *, http: httpx.Client) -> dict[str, Transport]:
    """The e-mail, SMS and push transports the settings configure; a channel left unset answers a
    technical failure naming the setting to give."""
    from tocsin.core.outbox.transports.email import EmailTransport, SmtpServer
    from tocsin.core.outbox.transports.push import PushTransport, load_vapid_key
    from tocsin.core.outbox.transports.sms import SmsTransport, gateway_from_url

    transports: dict[str, Transport] = {
        EMAIL: Missing(EMAIL, "TOCSIN_SMTP_URL and TOCSIN_MAIL_FROM"),
        SMS: Missing(SMS, "TOCSIN_SMS_URL"),
        PUSH: Missing(PUSH, "TOCSIN_VAPID_PRIVATE_KEY_FILE and TOCSIN_VAPID_SUBJECT"),
    }
    timeout = settings.delivery_timeout
    if settings.smtp_url and settings.mail_from:
        server = SmtpServer.from_url(
            settings.smtp_url, sender=settings.mail_from, password=settings.smtp_password
        )
        transports[EMAIL] = EmailTransport(server, timeout=timeout)
    if settings.sms_url:
        gateway = gateway_from_url(
            settings.sms_url, token=settings.sms_token, source=settings.sms_sender, http=http, timeout=timeout
        )
        transports[SMS] = SmsTransport(gateway)
    if settings.vapid_private_key and settings.vapid_subject:
        vapid = load_vapid_key(settings.vapid_private_key)
        transports[PUSH] = PushTransport(vapid=vapid, subject=settings.vapid_subject, http=http)
    return transports
