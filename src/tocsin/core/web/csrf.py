"""CSRF: every page form and every page-side JSON call carries the session's token."""

from __future__ import annotations

import secrets

from fastapi import Request

from tocsin.core.errors import DomainError


def csrf_token(request: Request) -> str:
    if "csrf" not in request.session:
        request.session["csrf"] = secrets.token_urlsafe(24)
    return request.session["csrf"]


async def check_csrf(request: Request) -> None:
    """Reject a state-changing page request whose CSRF token does not match the session's."""
    sent = request.headers.get("x-csrf-token")
    if sent is None and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        value = (await request.form()).get("csrf")
        sent = value if isinstance(value, str) else None
    if not token_matches(request, sent):
        raise DomainError("the form has expired; reload the page and try again", field="csrf")


def token_matches(request: Request, sent: str | None) -> bool:
    """True when ``sent`` is this session's CSRF token."""
    return bool(sent) and secrets.compare_digest(str(sent), request.session.get("csrf", ""))
