"""What every transport answers: one ``Answer`` per attempt, whose verdict says whether the message is
delivered, refused for good, worth another try, or stuck on our own set-up."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any, Protocol

from tocsin.core.outbox.models import DELIVERED, REJECTED, RETRY, TECHNICAL, OutboxMessage


@dataclass
class Answer:
    """What one attempt produced, on any channel.

    ``status_code`` is the channel's own answer code (HTTP status, SMTP reply code, SMPP command status);
    ``verdict`` is delivered, rejected (permanent: the recipient or content is refused), retry (network,
    throttling, a temporary refusal) or technical (our configuration); left empty, it is read from
    ``status_code`` as an HTTP status.
    """

    status_code: int | None
    body: str | None
    error: str | None
    duration_ms: int
    verdict: str = ""

    @property
    def json(self) -> Any:
        try:
            return json.loads(self.body) if self.body else None
        except ValueError:
            return None


def http_verdict(code: int | None) -> str:
    """delivered (2xx), rejected (a functional answer: 4xx but 401/408/429), or retry."""
    if code is None or code >= 500 or code in (401, 408, 429):
        return RETRY
    if 200 <= code < 300:
        return DELIVERED
    return REJECTED


def classify(answer: Answer) -> str:
    """The answer's verdict: its own, or the HTTP rule applied to its status code."""
    return answer.verdict or http_verdict(answer.status_code)


class Transport(Protocol):
    """Sends one outbox message over one channel; never raises for a delivery problem."""

    def send(self, message: OutboxMessage) -> Answer: ...


class Missing:
    """The transport of a channel this worker has no gateway for: a technical failure, not retried."""

    def __init__(self, channel: str, setting: str) -> None:
        self.channel, self.setting = channel, setting

    def send(self, message: OutboxMessage) -> Answer:
        reason = f"no {self.channel} gateway is configured on this worker (set {self.setting})"
        return Answer(None, None, reason, 0, TECHNICAL)


def elapsed_ms(started: float) -> int:
    return int((time.perf_counter() - started) * 1000)


def technical(error: str, started: float) -> Answer:
    return Answer(None, None, error[:1000], elapsed_ms(started), TECHNICAL)


def retry(error: str, started: float) -> Answer:
    return Answer(None, None, error[:1000], elapsed_ms(started), RETRY)
