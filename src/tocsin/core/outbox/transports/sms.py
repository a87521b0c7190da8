"""The SMS channel, through a gateway: SMPP 3.4 (``smpp://system_id:password@host:2775?source=TOCSIN``,
with smpplib) or an HTTP gateway (``https://…`` with a bearer token). Payloads are ``{"to", "text"}``
with ``to`` in E.164.

The HTTP gateway's shape: ``POST <url>`` with ``Authorization: Bearer <token>``,
``Idempotency-Key: tocsin-<id>`` and the JSON ``{"to": "+33612345678", "text": "…", "sender": "TOCSIN",
"reference": "tocsin-<id>"}``. It answers 2xx (``{"id": "…"}`` preferred) when it accepted the SMS;
400, 404 or 422 when the number or text is refused for good; 401 or 403 when our token is wrong;
429, 408 or 5xx when it cannot take it now.
"""

from __future__ import annotations

import time
from typing import Any, Protocol
from urllib.parse import parse_qs, unquote, urlsplit

import httpx
import smpplib.client
import smpplib.consts
import smpplib.exceptions
import smpplib.gsm

from tocsin.core.outbox.models import DELIVERED, REJECTED, RETRY, TECHNICAL, OutboxMessage
from tocsin.core.outbox.transports.base import Answer, elapsed_ms, retry, technical

# SMPP 3.4 §5.1.3 command_status values that condemn the message or the destination for good.
SMPP_PERMANENT = {
    0x00000001: "message length is invalid",
    0x0000000B: "invalid destination address",
    0x00000050: "invalid destination TON",
    0x00000051: "invalid destination NPI",
    0x00000061: "invalid scheduled delivery time",
    0x00000062: "invalid validity period",
}
# …and those that say our own account or source address is wrong.
SMPP_TECHNICAL = {
    0x0000000A: "invalid source address",
    0x0000000D: "bind failed",
    0x0000000E: "invalid password",
    0x0000000F: "invalid system_id",
    0x00000048: "invalid source TON",
    0x00000049: "invalid source NPI",
}
HTTP_PERMANENT = (400, 404, 422)
HTTP_TECHNICAL = (401, 403)


class SmsGateway(Protocol):
    """Hands one SMS to an operator's gateway; never raises for a delivery problem."""

    def submit(self, *, to: str, text: str, reference: str) -> Answer: ...


class SmsTransport:
    """Sends ``{"to", "text"}`` through the configured gateway."""

    def __init__(self, gateway: SmsGateway) -> None:
        self.gateway = gateway

    def send(self, message: OutboxMessage) -> Answer:
        to, text = message.payload.get("to"), message.payload.get("text")
        if not isinstance(to, str) or not to.startswith("+") or not isinstance(text, str):
            return technical("the SMS has no E.164 number or no text", time.perf_counter())
        return self.gateway.submit(to=to, text=text, reference=f"tocsin-{message.id}")


class SmppGateway:
    """SMPP 3.4: bind_transceiver, one submit_sm per part (long texts are split with a UDH), unbind."""

    def __init__(
        self, *, host: str, port: int, system_id: str, password: str, source: str, timeout: float = 10.0
    ) -> None:
        self.host, self.port, self.system_id, self.password = host, port, system_id, password
        self.source, self.timeout = source, timeout

    def submit(self, *, to: str, text: str, reference: str) -> Answer:
        started = time.perf_counter()
        sent: list[str] = []
        client = smpplib.client.Client(
            self.host, self.port, timeout=self.timeout, allow_unknown_opt_params=True
        )
        client.set_message_sent_handler(lambda pdu, **_: sent.append(_text(pdu.message_id)))
        try:
            client.connect()
            try:
                client.bind_transceiver(system_id=self.system_id, password=self.password)
                parts, coding, esm_class = smpplib.gsm.make_parts(text)
                for part in parts:
                    client.send_message(
                        **self._source(),
                        dest_addr_ton=smpplib.consts.SMPP_TON_INTL,
                        dest_addr_npi=smpplib.consts.SMPP_NPI_ISDN,
                        destination_addr=to.lstrip("+"),
                        short_message=part,
                        data_coding=coding,
                        esm_class=esm_class,
                        registered_delivery=False,
                    )
                    client.read_once(auto_send_enquire_link=False)
                client.unbind()
            finally:
                client.disconnect()
        except smpplib.exceptions.PDUError as error:
            return _smpp_refusal(error, started)
        except (smpplib.exceptions.ConnectionError, OSError) as error:
            return retry(f"SMPP {type(error).__name__}: {error}", started)
        except smpplib.exceptions.MessageTooLong:
            return Answer(None, None, "the text is too long for an SMS", elapsed_ms(started), REJECTED)
        body = f"message_id {', '.join(sent)}" if sent else None
        return Answer(0, body, None, elapsed_ms(started), DELIVERED)

    def _source(self) -> dict[str, Any]:
        """An alphanumeric sender (``TOCSIN``) or an international number (``+33…``)."""
        if self.source.lstrip("+").isdigit():
            return {
                "source_addr_ton": smpplib.consts.SMPP_TON_INTL,
                "source_addr_npi": smpplib.consts.SMPP_NPI_ISDN,
                "source_addr": self.source.lstrip("+"),
            }
        return {
            "source_addr_ton": smpplib.consts.SMPP_TON_ALNUM,
            "source_addr_npi": smpplib.consts.SMPP_NPI_UNK,
            "source_addr": self.source,
        }


def _text(value: Any) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)


def _smpp_refusal(error: smpplib.exceptions.PDUError, started: float) -> Answer:
    status = int(error.args[1]) if len(error.args) > 1 else None
    reason = f"SMPP {error.args[0]}"
    verdict: str
    if status in SMPP_PERMANENT:
        verdict = REJECTED
    elif status in SMPP_TECHNICAL:
        verdict = TECHNICAL
    else:  # throttled, queue full, system error…: the gateway may take it later
        verdict = RETRY
    return Answer(status, None, reason[:1000], elapsed_ms(started), verdict)


class HttpSmsGateway:
    """An SMS gateway with a JSON HTTP API (the shape is in this module's docstring)."""

    def __init__(self, *, url: str, token: str, source: str, http: httpx.Client) -> None:
        self.url, self.token, self.source, self.http = url, token, source, http

    def submit(self, *, to: str, text: str, reference: str) -> Answer:
        started = time.perf_counter()
        body = {"to": to, "text": text, "sender": self.source, "reference": reference}
        headers = {"Authorization": f"Bearer {self.token}", "Idempotency-Key": reference}
        try:
            reply = self.http.post(self.url, json=body, headers=headers)
        except httpx.HTTPError as error:
            return retry(f"{type(error).__name__}: {error}", started)
        code = reply.status_code
        verdict: str
        if 200 <= code < 300:
            verdict = DELIVERED
        elif code in HTTP_PERMANENT:
            verdict = REJECTED
        elif code in HTTP_TECHNICAL:
            verdict = TECHNICAL
        elif code in (408, 429) or code >= 500:
            verdict = RETRY
        else:
            verdict = REJECTED
        problem = None if verdict == DELIVERED else f"HTTP {code}"
        return Answer(code, reply.text[:4000], problem, elapsed_ms(started), verdict)


def gateway_from_url(
    url: str, *, token: str | None, source: str, http: httpx.Client, timeout: float
) -> SmsGateway:
    """Read TOCSIN_SMS_URL: ``smpp://system_id:password@host:2775?source=TOCSIN`` or an HTTP(S) URL."""
    parts = urlsplit(url)
    if parts.scheme == "smpp":
        if not parts.hostname or not parts.username:
            raise ValueError("TOCSIN_SMS_URL: write smpp://system_id:password@host:2775?source=TOCSIN")
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        return SmppGateway(
            host=parts.hostname,
            port=parts.port or 2775,
            system_id=unquote(parts.username),
            password=unquote(parts.password or ""),
            source=query.get("source", source),
            timeout=timeout,
        )
    if parts.scheme in ("http", "https") and parts.hostname:
        if not token:
            raise ValueError("TOCSIN_SMS_TOKEN: an HTTP SMS gateway needs its bearer token")
        return HttpSmsGateway(url=url, token=token, source=source, http=http)
    raise ValueError("TOCSIN_SMS_URL: write smpp://system_id:password@host:2775 or https://gateway/…")
