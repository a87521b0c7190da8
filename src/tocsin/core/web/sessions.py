"""Signed-in staff: the session cookie holds a random token checked against the database on each page."""

from __future__ import annotations

from collections.abc import Callable, Collection

from fastapi import Request
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from tocsin.core import orgs
from tocsin.core.auth import staff
from tocsin.core.auth.staff import StaffUser
from tocsin.core.web.shell import Db, shell_of

SESSION_KEY = "sid"


class LoginRequired(Exception):
    """Raised for a page that needs a signed-in staff user."""


class RoleMissing(Exception):
    """Raised when the signed-in user lacks the role a page needs."""


def client_address(request: Request) -> str:
    """The caller's address (behind a proxy, uvicorn's --proxy-headers puts the real one here)."""
    return request.client.host if request.client else "unknown"


def _user_of(request: Request, db: Session) -> StaffUser | None:
    if hasattr(request.state, "user"):
        user: StaffUser | None = request.state.user
        return user
    token = request.session.get(SESSION_KEY)
    user, roles = None, set()
    if isinstance(token, str) and token:
        shell = shell_of(request)
        user = staff.session_user(db, token=token, now=shell.clock(), rules=shell.session_rules)
        if user is not None:
            roles = orgs.roles_of(db, user)
            db.expunge(user)  # error pages, after a rollback, still show who is signed in
    request.state.user, request.state.roles = user, roles
    return user


def roles_of_request(request: Request) -> set[str]:
    """Every role the signed-in user holds, globally or within an organisation (empty when signed out)."""
    current_user(request)
    return set(getattr(request.state, "roles", set()))


def current_user(request: Request) -> StaffUser | None:
    """The signed-in staff user, if any (loaded once per request)."""
    if hasattr(request.state, "user"):
        user: StaffUser | None = request.state.user
        return user
    if not request.session.get(SESSION_KEY):
        request.state.user, request.state.roles = None, set()
        return None
    with shell_of(request).database.session() as db:
        return _user_of(request, db)


def require_staff(*roles: str) -> Callable[..., StaffUser]:
    """Dependency: the signed-in staff user, who must hold one of ``roles`` (admin holds all)."""

    def dependency(request: Request, db: Db) -> StaffUser:
        user = _user_of(request, db)
        if user is None:
            raise LoginRequired()
        if roles and not (set(roles) | {"admin"}) & request.state.roles:
            raise RoleMissing()
        return user

    return dependency


def still_signed_in(request: Request, roles: Collection[str]) -> bool:
    """Whether the request's session is still live and its user holds one of ``roles`` (admin holds
    all), checked afresh and without counting as activity: for streams that outlive their request."""
    token = request.session.get(SESSION_KEY)
    if not isinstance(token, str) or not token:
        return False
    shell = shell_of(request)
    with shell.database.session() as db:
        user = staff.session_user(db, token=token, now=shell.clock(), rules=shell.session_rules, touch=False)
        return user is not None and (not roles or bool((set(roles) | {"admin"}) & set(user.roles)))


def start_session(request: Request, db: Db, user: StaffUser) -> None:
    """Sign ``user`` in on this browser: a fresh cookie (no fixation) and a fresh CSRF token."""
    shell = shell_of(request)
    token = staff.open_session(
        db, user=user, now=shell.clock(), rules=shell.session_rules, address=client_address(request)
    )
    request.session.clear()
    request.session[SESSION_KEY] = token
    request.state.user, request.state.roles = user, orgs.roles_of(db, user)


def end_session(request: Request, db: Db) -> None:
    token = request.session.get(SESSION_KEY)
    if isinstance(token, str) and token:
        staff.end_session(db, token=token)
    request.session.clear()
    request.state.user, request.state.roles = None, set()


async def signed_in_or_none(request: Request) -> StaffUser | None:
    """For async routes: the signed-in user without holding the event loop."""
    return await run_in_threadpool(current_user, request)
