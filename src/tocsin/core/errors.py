"""Domain errors: each names the field at fault and why; the web shell maps them to HTTP."""

from __future__ import annotations


class DomainError(Exception):
    """A rule said no. ``field`` is the input at fault (or None), ``reason`` a short English text."""

    status_code = 400

    def __init__(self, reason: str, *, field: str | None = None) -> None:
        super().__init__(f"{field}: {reason}" if field else reason)
        self.field = field
        self.reason = reason


class NotFound(DomainError):
    status_code = 404


class Conflict(DomainError):
    status_code = 409


class Unauthorized(DomainError):
    status_code = 401


class Forbidden(DomainError):
    status_code = 403
