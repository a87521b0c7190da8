"""The push channel: Web Push (RFC 8030) with the payload encrypted for the subscription (RFC 8291,
aes128gcm, by pywebpush) and our server identified by a VAPID JWT (RFC 8292, py-vapid).

Payloads are ``{"endpoint", "keys": {"p256dh", "auth"}, "data": {…}, "ttl"}``. 404 or 410 means the
subscription is gone (permanent); 429, 408 and 5xx are worth another try; any other refusal (a bad
VAPID key, a payload too large) is our own set-up.
"""

from __future__ import annotations

import base64
import json
import time
from urllib.parse import urlsplit

import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from py_vapid import Vapid
from pywebpush import WebPusher, WebPushException

from tocsin.core.outbox.models import DELIVERED, REJECTED, RETRY, TECHNICAL, OutboxMessage
from tocsin.core.outbox.transports.base import Answer, elapsed_ms, retry, technical

GONE = (404, 410)
CLAIM_LIFETIME = 12 * 3600  # RFC 8292 §2: at most 24 h


def load_vapid_key(text: str) -> Vapid:
    """A VAPID private key from PEM text (what ``tocsin notify vapid-keys`` writes)."""
    try:
        return Vapid.from_pem(text.strip().encode())
    except Exception as error:
        raise ValueError(f"TOCSIN_VAPID_PRIVATE_KEY: not a P-256 private key in PEM ({error})") from None


def new_vapid_key() -> tuple[str, str]:
    """A fresh key pair: the private key as PEM, the public key as the browser wants it (base64url)."""
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return pem, public_key_of(load_vapid_key(pem))


def public_key_of(vapid: Vapid) -> str:
    """The application server key a browser subscribes with: the uncompressed point, base64url."""
    raw = vapid.public_key.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


class PushTransport:
    """Encrypts and posts one notification to a subscription's push service."""

    def __init__(self, *, vapid: Vapid, subject: str, http: httpx.Client) -> None:
        if not subject.startswith(("mailto:", "https:")):
            raise ValueError("TOCSIN_VAPID_SUBJECT: give a mailto: or https: address to be reached at")
        self.vapid, self.subject, self.http = vapid, subject, http

    def send(self, message: OutboxMessage) -> Answer:
        started = time.perf_counter()
        payload = message.payload
        try:
            endpoint = str(payload["endpoint"])
            subscription = {"endpoint": endpoint, "keys": dict(payload["keys"])}
            data = json.dumps(payload["data"], ensure_ascii=False).encode()
            body = WebPusher(subscription).encode(data, "aes128gcm")["body"]
        except (KeyError, TypeError, ValueError, WebPushException) as error:
            return technical(
                f"the notification cannot be encrypted: {type(error).__name__}: {error}", started
            )
        origin = "{0.scheme}://{0.netloc}".format(urlsplit(endpoint))
        claims = {"sub": self.subject, "aud": origin, "exp": int(time.time()) + CLAIM_LIFETIME}
        headers = {
            **self.vapid.sign(claims),
            "Content-Encoding": "aes128gcm",
            "Content-Type": "application/octet-stream",
            "TTL": str(int(payload.get("ttl", 86400))),
            "Urgency": str(payload.get("urgency", "normal")),
        }
        try:
            reply = self.http.post(endpoint, content=body, headers=headers)
        except httpx.HTTPError as error:
            return retry(f"{type(error).__name__}: {error}", started)
        code = reply.status_code
        verdict: str
        if 200 <= code < 300:
            verdict = DELIVERED
        elif code in GONE:
            verdict = REJECTED
        elif code in (408, 429) or code >= 500:
            verdict = RETRY
        else:
            verdict = TECHNICAL
        problem = None if verdict == DELIVERED else f"push service answered {code}"
        return Answer(code, reply.text[:1000], problem, elapsed_ms(started), verdict)
