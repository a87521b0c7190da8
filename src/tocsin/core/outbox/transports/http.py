"""The HTTP channel: POST the JSON payload to the partner's URL with a bearer token fetched by client
credentials and an ``Idempotency-Key``; 2xx delivers, a functional 4xx rejects, the rest is retried."""

from __future__ import annotations

import threading
import time

import httpx

from tocsin.core.outbox.models import OutboundCredential, OutboxMessage
from tocsin.core.outbox.transports.base import Answer, elapsed_ms, http_verdict


class TokenUnavailable(Exception):
    """No bearer token for a partner right now (its token endpoint failed, recently or just now)."""


class TokenSource:
    """Bearer tokens for outbound calls, fetched with client credentials and kept until near expiry.

    Each credential has its own lock, so a partner whose token endpoint hangs holds up only its own
    deliveries; after a failed fetch the credential cools down for ``cool_down`` seconds, during which
    its deliveries fail at once (and are retried on their schedule) instead of queueing on the lock.
    """

    def __init__(self, http: httpx.Client, cool_down: float = 15.0) -> None:
        self.http, self.cool_down = http, cool_down
        self._tokens: dict[str, tuple[str, float]] = {}
        self._failures: dict[str, tuple[float, str]] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._lock = threading.Lock()

    def header(self, credential: OutboundCredential | None) -> dict[str, str]:
        if credential is None:
            return {}
        token = self._ready(credential.name)
        if token is None:
            with self._lock_for(credential.name):  # one fetch per credential when many start together
                token = self._ready(credential.name) or self._fetch(credential)
        return {"Authorization": f"Bearer {token}"}

    def _ready(self, name: str) -> str | None:
        """A cached token, or None; raises TokenUnavailable while the credential cools down."""
        now = time.monotonic()
        with self._lock:
            cached, failure = self._tokens.get(name), self._failures.get(name)
        if cached and cached[1] > now:
            return cached[0]
        if failure and failure[0] > now:
            raise TokenUnavailable(failure[1])
        return None

    def _lock_for(self, name: str) -> threading.Lock:
        with self._lock:
            return self._locks.setdefault(name, threading.Lock())

    def _fetch(self, credential: OutboundCredential) -> str:
        data = {"grant_type": "client_credentials"}
        if credential.scope:
            data["scope"] = credential.scope
        try:
            reply = self.http.post(
                credential.token_url, data=data, auth=(credential.client_id, credential.client_secret)
            )
            reply.raise_for_status()
            body = reply.json()
            token, life = str(body["access_token"]), float(body.get("expires_in", 300))
        except (httpx.HTTPError, ValueError, KeyError, TypeError) as error:
            reason = f"token endpoint of {credential.name}: {type(error).__name__}: {error}"[:500]
            with self._lock:
                self._failures[credential.name] = (time.monotonic() + self.cool_down, reason)
            raise TokenUnavailable(reason) from None
        with self._lock:
            self._tokens[credential.name] = (token, time.monotonic() + max(life - 30, life / 2))
            self._failures.pop(credential.name, None)
        return token

    def forget(self, name: str | None) -> None:
        with self._lock:
            self._tokens.pop(name or "", None)


class HttpTransport:
    """Delivers to partners' HTTP APIs; the worker refreshes ``credentials`` at each claim."""

    def __init__(self, http: httpx.Client) -> None:
        self.http = http
        self.tokens = TokenSource(http)
        self.credentials: dict[str, OutboundCredential] = {}

    def send(self, message: OutboxMessage) -> Answer:
        started = time.perf_counter()
        try:
            headers = self.tokens.header(self.credentials.get(message.credential or ""))
            headers["Idempotency-Key"] = f"tocsin-{message.id}"
            reply = self.http.post(message.url, json=message.payload, headers=headers)
            if reply.status_code == 401:
                self.tokens.forget(message.credential)
            code = reply.status_code
            return Answer(code, reply.text[:4000], None, elapsed_ms(started), http_verdict(code))
        except TokenUnavailable as error:
            return Answer(None, None, str(error)[:1000], elapsed_ms(started), http_verdict(None))
        except (httpx.HTTPError, ValueError, KeyError) as error:
            reason = f"{type(error).__name__}: {error}"[:1000]
            return Answer(None, None, reason, elapsed_ms(started), http_verdict(None))
