"""The e-mail channel over SMTP (smtplib): STARTTLS or implicit TLS, AUTH, one connection per message.

A 5xx for the recipient or the content is a permanent refusal; a 4xx, a dropped connection or a time-out
is worth another try; a refused login or sender is our own set-up (technical).
"""

from __future__ import annotations

import smtplib
import ssl
import time
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from urllib.parse import parse_qs, unquote, urlsplit

from tocsin.core.outbox.models import DELIVERED, REJECTED, RETRY, TECHNICAL, OutboxMessage
from tocsin.core.outbox.transports.base import Answer, elapsed_ms, retry, technical

TRUE = ("1", "true", "yes", "on")


@dataclass(frozen=True)
class SmtpServer:
    """Where and how we hand mail over: ``smtp://user:pass@host:587?starttls=true``, ``smtps://…:465``;
    ``cafile=`` trusts a private certificate authority (tests, internal relays)."""

    host: str
    port: int
    username: str
    password: str
    security: str  # "starttls", "tls" (implicit, smtps) or "none"
    cafile: str | None
    sender: str

    @classmethod
    def from_url(cls, url: str, *, sender: str, password: str | None = None) -> SmtpServer:
        """Read TOCSIN_SMTP_URL; ``password`` (from TOCSIN_SMTP_PASSWORD[_FILE]) wins over the URL's."""
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise ValueError(
                "TOCSIN_SMTP_URL: write smtp://user:password@host:587?starttls=true or smtps://…"
            )
        if "@" not in sender:
            raise ValueError("TOCSIN_MAIL_FROM: give the sender's address, e.g. tocsin@example.org")
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        if parts.scheme == "smtps":
            security = "tls"
        elif query.get("starttls", "").lower() in TRUE:
            security = "starttls"
        else:
            security = "none"
        return cls(
            host=parts.hostname,
            port=parts.port or (465 if security == "tls" else 587 if security == "starttls" else 25),
            username=unquote(parts.username or ""),
            password=password if password is not None else unquote(parts.password or ""),
            security=security,
            cafile=query.get("cafile"),
            sender=sender,
        )


class EmailTransport:
    """Sends ``{"to", "subject", "text", "html"}`` payloads as multipart/alternative mail."""

    def __init__(self, server: SmtpServer, *, timeout: float = 10.0) -> None:
        self.server, self.timeout = server, timeout

    def send(self, message: OutboxMessage) -> Answer:
        started = time.perf_counter()
        try:
            mail = self.compose(message)
        except (KeyError, TypeError, ValueError) as error:
            return technical(f"the message cannot be built: {type(error).__name__}: {error}", started)
        try:
            with self._connect() as smtp:
                if self.server.username:
                    smtp.login(self.server.username, self.server.password)
                smtp.send_message(mail)
            return Answer(250, f"accepted for {mail['To']}", None, elapsed_ms(started), DELIVERED)
        except smtplib.SMTPRecipientsRefused as error:
            code, reply = next(iter(error.recipients.values()))
            return _refused(code, reply, started, permanent=REJECTED)
        except smtplib.SMTPSenderRefused as error:
            return _refused(error.smtp_code, error.smtp_error, started, permanent=TECHNICAL)
        except smtplib.SMTPDataError as error:
            return _refused(error.smtp_code, error.smtp_error, started, permanent=REJECTED)
        except smtplib.SMTPAuthenticationError as error:
            return _refused(error.smtp_code, error.smtp_error, started, permanent=TECHNICAL)
        except smtplib.SMTPNotSupportedError as error:
            return technical(f"the SMTP server does not offer what we need: {error}", started)
        except smtplib.SMTPResponseException as error:
            return _refused(error.smtp_code, error.smtp_error, started, permanent=TECHNICAL)
        except (smtplib.SMTPException, OSError) as error:  # refused, reset, time-out, TLS handshake
            return retry(f"{type(error).__name__}: {error}", started)

    def compose(self, message: OutboxMessage) -> EmailMessage:
        """The mail for one outbox message; its Message-ID names the message, so a repeat is recognisable."""
        payload = message.payload
        mail = EmailMessage()
        mail["From"] = self.server.sender
        mail["To"] = str(payload["to"])
        mail["Subject"] = str(payload["subject"])
        mail["Date"] = formatdate(localtime=False)
        mail["Message-ID"] = make_msgid(f"tocsin-{message.id}", domain=self.server.sender.rsplit("@", 1)[1])
        mail["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation replies to a robot
        mail.set_content(str(payload["text"]))
        if payload.get("html"):
            mail.add_alternative(str(payload["html"]), subtype="html")
        return mail

    def _connect(self) -> smtplib.SMTP:
        server = self.server
        context = ssl.create_default_context(cafile=server.cafile)
        if server.security == "tls":
            return smtplib.SMTP_SSL(server.host, server.port, timeout=self.timeout, context=context)
        smtp = smtplib.SMTP(server.host, server.port, timeout=self.timeout)
        try:
            if server.security == "starttls":
                smtp.starttls(context=context)
        except BaseException:
            smtp.close()
            raise
        return smtp


def _refused(code: int, reply: bytes | str, started: float, *, permanent: str) -> Answer:
    """A 5xx is ``permanent`` (rejected or technical); a 4xx is worth another try."""
    text = reply.decode(errors="replace") if isinstance(reply, bytes) else str(reply)
    verdict = permanent if 500 <= code < 600 else RETRY
    return Answer(code, text[:1000], f"SMTP {code} {text}"[:1000], elapsed_ms(started), verdict)
