"""Errors at the boundary: domain errors name the field, a missing page or role is a page (or JSON for
APIs), an unreachable or full database is 503 with Retry-After and one log line, never a traceback
per request."""

from __future__ import annotations

import logging
import threading
import time
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from sqlalchemy import exc as sa
from starlette.exceptions import HTTPException as StarletteHTTPException

from tocsin.core.errors import DomainError
from tocsin.core.web.sessions import LoginRequired, RoleMissing
from tocsin.core.web.shell import shell_of

log = logging.getLogger("tocsin")
RETRY_AFTER_SECONDS = 5
UNAVAILABLE = (sa.OperationalError, sa.InterfaceError, sa.TimeoutError, sa.DisconnectionError)


class TokenProblem(Exception):
    """A bearer-token failure, answered per RFC 6750 §3."""

    def __init__(self, status: int, error: str, description: str) -> None:
        super().__init__(description)
        self.status, self.error, self.description = status, error, description


class BodyTimeout(Exception):
    """The client did not send its request body in time."""


class QuietLog:
    """Logs a recurring problem once per ``every`` seconds, with how many times it was seen meanwhile."""

    def __init__(self, every: float = 60.0) -> None:
        self.every = every
        self._last = -float("inf")
        self._seen = 0
        self._lock = threading.Lock()

    def warning(self, text: str) -> None:
        with self._lock:
            self._seen += 1
            if time.monotonic() - self._last < self.every:
                return
            seen, self._seen, self._last = self._seen, 0, time.monotonic()
        log.warning("%s (seen %d time(s) since the last report)", text, seen)


database_trouble = QuietLog()


def wants_json(request: Request) -> bool:
    """APIs and event streams get JSON errors (an EventSource cannot follow a sign-in redirect)."""
    path = request.url.path
    if path == "/api/docs":
        return False
    if "text/event-stream" in request.headers.get("accept", ""):
        return True
    return path.startswith(("/v1/", "/oauth/", "/api/")) or "/api/" in path


def install_error_pages(app: FastAPI) -> None:
    """Map domain errors, missing pages, an unavailable database and crashes to pages or JSON."""

    @app.exception_handler(DomainError)
    async def domain_error(request: Request, error: DomainError) -> Response:
        if wants_json(request):
            return JSONResponse({"field": error.field, "reason": error.reason}, status_code=error.status_code)
        return error_page(request, error.status_code, error.reason, error.field)

    @app.exception_handler(TokenProblem)
    async def token_problem(request: Request, error: TokenProblem) -> Response:
        challenge = f'Bearer error="{error.error}", error_description="{error.description}"'
        return JSONResponse(
            {"error": error.error, "error_description": error.description},
            status_code=error.status,
            headers={"WWW-Authenticate": challenge},
        )

    @app.exception_handler(LoginRequired)
    async def login_required(request: Request, _: LoginRequired) -> Response:
        if wants_json(request):
            return JSONResponse({"field": None, "reason": "sign in first"}, status_code=401)
        target = quote(request.url.path + (f"?{request.url.query}" if request.url.query else ""))
        return RedirectResponse(f"{request.app.url_path_for('login_form')}?next={target}", status_code=303)

    @app.exception_handler(RoleMissing)
    async def role_missing(request: Request, _: RoleMissing) -> Response:
        if wants_json(request):
            return JSONResponse({"field": None, "reason": "your role does not allow this"}, status_code=403)
        return error_page(request, 403, "Your role does not allow this page.", None)

    @app.exception_handler(BodyTimeout)
    async def body_timeout(request: Request, _: BodyTimeout) -> Response:
        body = {"field": "body", "reason": "the request body did not arrive in time"}
        return JSONResponse(body, status_code=408, headers={"Connection": "close"})

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException) -> Response:
        headers = getattr(error, "headers", None)
        if wants_json(request):
            body = {"field": None, "reason": str(error.detail)}
            return JSONResponse(body, status_code=error.status_code, headers=headers)
        page = error_page(request, error.status_code, str(error.detail), None)
        page.headers.update(headers or {})
        return page

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, error: RequestValidationError) -> Response:
        """A path or query value of the wrong type: 400 naming it, never FastAPI's bare 422."""
        first = error.errors()[0] if error.errors() else {}
        field_name = ".".join(str(part) for part in first.get("loc", ())[1:]) or None
        reason = "this value has the wrong form"
        if wants_json(request):
            return JSONResponse({"field": field_name, "reason": reason}, status_code=400)
        return error_page(request, 400, "This value has the wrong form.", field_name)

    for kind in UNAVAILABLE:
        app.add_exception_handler(kind, database_unavailable)

    @app.exception_handler(Exception)
    async def crash(request: Request, error: Exception) -> Response:
        log.exception("unhandled error on %s", request.url.path)
        if wants_json(request):
            return JSONResponse({"field": None, "reason": "internal error"}, status_code=500)
        return error_page(request, 500, "Something went wrong on our side.", None)


async def database_unavailable(request: Request, error: Exception) -> Response:
    """503 with Retry-After: the database is down, unreachable, locked for too long or out of space."""
    first_line = str(getattr(error, "orig", None) or error).strip().splitlines()[0][:200]
    database_trouble.warning(f"database unavailable: {type(error).__name__}: {first_line}")
    headers = {"Retry-After": str(RETRY_AFTER_SECONDS)}
    reason = "the service is unavailable for a moment; retry later"
    if wants_json(request):
        return JSONResponse({"field": None, "reason": reason}, status_code=503, headers=headers)
    request.state.user, request.state.roles = None, set()  # no database to ask who is signed in
    return error_page(
        request, 503, "The service is unavailable for a moment. Try again in a few seconds.", None, headers
    )


def error_page(
    request: Request, status: int, reason: str, field_name: str | None, headers: dict[str, str] | None = None
) -> Response:
    shell = shell_of(request)
    if not hasattr(request.state, "lang"):
        request.state.lang = shell.language_default(request.url.path)
    page = shell.render(
        request, "error.html", status_code=status, status=status, reason=reason, field=field_name
    )
    page.headers.update(headers or {})
    return page
