"""Partners' side of the shell: the OAuth2 token endpoint (client credentials, RFC 6749 §4.4) and the
bearer-token check of the partner APIs.

The client secret is checked with argon2 in a thread of its own small pool, never on the event loop,
so wrong secrets posted in a loop cannot stall other requests. Failures are counted per client id and
per address (``core.auth.throttle``); a locked key is answered 429 before any argon2 work. An unknown
client id costs the same argon2 check as a wrong secret, so timing does not tell which ids exist.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from datetime import datetime
from functools import partial
from typing import Any
from urllib.parse import unquote

import anyio.to_thread
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from tocsin.core.auth import partners, throttle
from tocsin.core.auth.partners import Caller
from tocsin.core.web.csrf import token_matches
from tocsin.core.web.errors import TokenProblem
from tocsin.core.web.sessions import client_address, current_user, roles_of_request
from tocsin.core.web.shell import Shell, shell_of

POLICY = throttle.Policy(free=10, base=1.0, cap=900.0, forget_after=900.0)
LONGEST_ID, LONGEST_SECRET = 200, 1000

router = APIRouter()


@router.post("/oauth/token", tags=["auth"])
async def token(request: Request) -> Response:
    """OAuth2 client-credentials grant (RFC 6749 §4.4); the client authenticates with Basic or body."""
    form = await request.form()
    shell = shell_of(request)
    client_id, secret = _client_credentials(request, form)
    if form.get("grant_type") != "client_credentials":
        return _oauth_error(400, "unsupported_grant_type", "grant_type must be client_credentials")
    if not client_id or secret is None or len(client_id) > LONGEST_ID or len(secret) > LONGEST_SECRET:
        return _oauth_error(401, "invalid_client", "client authentication required")
    scope = form.get("scope")
    requested = set(str(scope).split()) if scope else None
    keys = [f"oauth-client:{client_id}", f"oauth-address:{client_address(request)}"]
    now = shell.clock()
    wait = await run_in_threadpool(_locked_for, shell, keys, now)
    if wait is not None:
        return _oauth_error(
            429, "invalid_client", f"too many failed attempts; retry in {wait} s", retry_after=wait
        )
    check = partial(_check_and_issue, shell, client_id, secret, requested, keys, now)
    outcome = await anyio.to_thread.run_sync(check, limiter=shell.secret_checks())
    if isinstance(outcome, JSONResponse):
        return outcome
    body = {
        "access_token": outcome.token,
        "token_type": "Bearer",
        "expires_in": outcome.expires_in,
        "scope": " ".join(outcome.scopes),
    }
    return JSONResponse(body, headers={"Cache-Control": "no-store", "Pragma": "no-cache"})


def _locked_for(shell: Shell, keys: list[str], now: datetime) -> int | None:
    """Seconds left on a lock of these keys: from this process's memory of locks it has seen, else from
    the database (an attacker hammering a locked key then costs no query at all)."""
    remembered = shell.known_locks.left(keys, now)
    if remembered is not None:
        return remembered
    with shell.database.session() as db:
        found = throttle.locks(db, keys, now=now)
    shell.known_locks.remember(found)
    return throttle.seconds_left(found.values(), now)


def _check_and_issue(
    shell: Shell, client_id: str, secret: str, requested: set[str] | None, keys: list[str], now: datetime
) -> partners.Issued | JSONResponse:
    with shell.database.session() as db:
        client = partners.client_for(db, client_id)
        not_after = partners.check_secret(client, secret, now=now)
        if client is None or not_after is None:
            throttle.failed(db, keys, now=now, policy=POLICY)
            return _oauth_error(401, "invalid_client", "unknown client or wrong secret")
        throttle.succeeded(db, keys[:1])
        try:
            scopes = partners.granted_scopes(client, requested)
        except partners.ScopeNotGranted as error:
            return _oauth_error(400, "invalid_scope", str(error))
        return partners.issue_token(
            db,
            client=client,
            scopes=scopes,
            now=now,
            lifetime=shell.settings.token_lifetime,
            not_after=not_after,
        )


def require_scope(scope: str) -> Callable[..., Any]:
    """Dependency: the partner behind the bearer token, which must carry ``scope``.

    A token verified in the last second is answered from memory, without a database session.
    """

    async def dependency(request: Request) -> Caller:
        shell = shell_of(request)
        kind, _, value = request.headers.get("authorization", "").partition(" ")
        value = value.strip()
        if kind.lower() != "bearer" or not value:
            raise TokenProblem(401, "invalid_request", "missing bearer token")
        caller = shell.token_cache.get(partners.digest(value), shell.clock())
        if caller is None:
            caller = await run_in_threadpool(_caller_from_database, shell, value)
        if caller is None:
            raise TokenProblem(401, "invalid_token", "unknown or expired token")
        if scope not in caller.scopes:
            raise TokenProblem(403, "insufficient_scope", f"this operation needs the scope {scope}")
        return caller

    return dependency


def _caller_from_database(shell: Shell, value: str) -> Caller | None:
    with shell.database.session() as db:
        return partners.caller_for_token(db, token=value, now=shell.clock(), cache=shell.token_cache)


def _client_credentials(request: Request, form: Any) -> tuple[str | None, str | None]:
    header = request.headers.get("authorization", "")
    if header.lower().startswith("basic "):
        try:
            decoded = base64.b64decode(header[6:], validate=True).decode()
        except (ValueError, UnicodeDecodeError):
            return None, None
        user, _, password = decoded.partition(":")
        return unquote(user), unquote(password)
    client_id, secret = form.get("client_id"), form.get("client_secret")
    return (str(client_id) if client_id else None), (str(secret) if secret is not None else None)


def _oauth_error(
    status: int, error: str, description: str, *, retry_after: int | None = None
) -> JSONResponse:
    headers = {"Cache-Control": "no-store"}
    if status == 401:
        headers["WWW-Authenticate"] = 'Basic realm="tocsin"'
    if retry_after is not None:
        headers["Retry-After"] = str(retry_after)
    return JSONResponse(
        {"error": error, "error_description": description}, status_code=status, headers=headers
    )


def staff_or_partner(scope: str, *roles: str) -> Callable[..., Any]:
    """Dependency of a desk's JSON API: a partner's bearer token carrying ``scope``, or a signed-in staff
    user holding one of ``roles`` (admin holds all), whose state-changing calls carry the session's CSRF
    token in ``X-CSRF-Token``. Answers who acts, for the audit: "partner:<owner>" or "staff:<username>"."""
    partner = require_scope(scope)

    async def dependency(request: Request) -> str:
        if request.headers.get("authorization", "").lower().startswith("bearer "):
            return f"partner:{(await partner(request)).owner}"
        user = await run_in_threadpool(current_user, request)
        if user is None:
            raise TokenProblem(401, "invalid_request", "sign in, or send a bearer token")
        if roles and not (set(roles) | {"admin"}) & roles_of_request(request):
            raise TokenProblem(403, "insufficient_scope", f"this needs one of the roles {sorted(roles)}")
        if request.method not in ("GET", "HEAD") and not token_matches(
            request, request.headers.get("x-csrf-token")
        ):
            raise TokenProblem(403, "invalid_request", "X-CSRF-Token is missing or not this session's")
        return f"staff:{user.username}"

    return dependency
