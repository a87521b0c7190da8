"""The web shell every desk plugs into: layout, language, sessions, errors, login, OAuth2 tokens."""

from __future__ import annotations

import base64
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

from fastapi import APIRouter, Depends, FastAPI, Form, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from jinja2 import ChoiceLoader, Environment, FileSystemLoader, select_autoescape
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.sessions import SessionMiddleware

from tocsin.core import audit, auth
from tocsin.core.clock import Clock, utc_now
from tocsin.core.config import Settings
from tocsin.core.db import Database
from tocsin.core.errors import DomainError
from tocsin.core.i18n import CORE_LOCALES, LANGUAGES, Catalogs

HERE = Path(__file__).parent


@dataclass
class NavLink:
    label: str
    url: str
    roles: tuple[str, ...] = ()


@dataclass
class Desk:
    """What a desk hands the shell: its routers, templates, translations and menu entries."""

    name: str
    title: str
    routers: list[APIRouter] = field(default_factory=list)
    templates: Path | None = None
    locales: Path | None = None
    static: Path | None = None
    nav: list[NavLink] = field(default_factory=list)
    languages: tuple[str, ...] = ("en",)
    on_start: Callable[[FastAPI], None] | None = None


class Shell:
    """Per-app services the routes need: settings, database, clock, translations, templates."""

    def __init__(
        self, settings: Settings, database: Database, desks: list[Desk], clock: Clock = utc_now
    ) -> None:
        self.settings, self.database, self.desks, self.clock = settings, database, desks, clock
        languages = sorted({"en", settings.default_language, *[lang for d in desks for lang in d.languages]})
        folders = [CORE_LOCALES, *[d.locales for d in desks if d.locales]]
        self.catalogs = Catalogs(folders, languages)
        loaders = [FileSystemLoader(str(d.templates)) for d in desks if d.templates]
        self.templates = Environment(
            loader=ChoiceLoader([*loaders, FileSystemLoader(str(HERE / "templates"))]),
            autoescape=select_autoescape(["html"]),
        )
        self.token_cache = auth.TokenCache()

    def render(self, request: Request, name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
        """Render a page in the request's language with the layout's common context."""
        lang = request.state.lang
        user = self.current_user(request)
        context.setdefault("errors", [])
        page = self.templates.get_template(name).render(
            request=request,
            _=lambda text, **kw: (
                self.catalogs.gettext(lang, text).format(**kw) if kw else self.catalogs.gettext(lang, text)
            ),
            lang=lang,
            languages={k: LANGUAGES[k] for k in self.languages_for(request)},
            user=user,
            csrf=csrf_token(request),
            nav=self.nav_for(user),
            desks=self.desks,
            **context,
        )
        return HTMLResponse(page, status_code=status_code)

    def languages_for(self, request: Request) -> list[str]:
        """The languages offered on this page: its desk's (and English), or every one on shell pages."""
        first = request.url.path.strip("/").split("/")[0]
        desk = next((d for d in self.desks if d.name == first), None)
        wanted = set(desk.languages) | {"en"} if desk else set(self.catalogs.languages)
        return [lang for lang in self.catalogs.languages if lang in wanted]

    def current_user(self, request: Request) -> auth.StaffUser | None:
        """The signed-in staff user, if any (already loaded by ``require_staff`` on protected pages)."""
        user = getattr(request.state, "user", None)
        user_id = request.session.get("user_id")
        if user is None and user_id:
            with self.database.session() as db:
                user = db.get(auth.StaffUser, user_id)
            request.state.user = user if user and user.active else None
        return getattr(request.state, "user", None)

    def nav_for(self, user: auth.StaffUser | None) -> list[tuple[str, list[NavLink]]]:
        roles = set(user.roles) if user else set()
        menu = []
        for desk in self.desks:
            links = [n for n in desk.nav if not n.roles or roles & set(n.roles) or "admin" in roles]
            if links:
                menu.append((desk.title, links))
        return menu

    def gettext(self, request: Request, text: str) -> str:
        return self.catalogs.gettext(request.state.lang, text)


def shell_of(request: Request) -> Shell:
    return request.app.state.shell


def get_db(request: Request) -> Iterator[Session]:
    """A request-scoped session: committed if the route returns, rolled back if it raises."""
    with shell_of(request).database.session() as db:
        yield db


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
    if not sent or not secrets.compare_digest(str(sent), request.session.get("csrf", "")):
        raise DomainError("the form has expired; reload the page and try again", field="csrf")


class LoginRequired(Exception):
    """Raised for a page that needs a signed-in staff user."""


class RoleMissing(Exception):
    """Raised when the signed-in user lacks the role a page needs."""


def require_staff(*roles: str) -> Callable[..., auth.StaffUser]:
    """Dependency: the signed-in staff user, who must hold one of ``roles`` (admin holds all)."""

    def dependency(request: Request, db: Session = Depends(get_db)) -> auth.StaffUser:
        user_id = request.session.get("user_id")
        user = db.get(auth.StaffUser, user_id) if user_id else None
        if user is None or not user.active:
            raise LoginRequired()
        db.expunge(user)  # a later rollback must not expire it: error pages still show who is signed in
        request.state.user = user
        if roles and not (set(roles) | {"admin"}) & set(user.roles):
            raise RoleMissing()
        return user

    return dependency


def require_scope(scope: str) -> Callable[..., Any]:
    """Dependency: the partner behind the bearer token, which must carry ``scope``.

    A token seen in the last few seconds is answered from memory, without a database session.
    """

    async def dependency(request: Request) -> auth.Caller:
        shell = shell_of(request)
        kind, _, token = request.headers.get("authorization", "").partition(" ")
        if kind.lower() != "bearer" or not token.strip():
            raise TokenProblem(401, "invalid_request", "missing bearer token")
        caller = shell.token_cache.get(auth.digest(token.strip()), shell.clock())
        if caller is None:
            caller = await run_in_threadpool(_caller_from_database, shell, token.strip())
        if caller is None:
            raise TokenProblem(401, "invalid_token", "unknown or expired token")
        if scope not in caller.scopes:
            raise TokenProblem(403, "insufficient_scope", f"this operation needs the scope {scope}")
        return caller

    return dependency


def _caller_from_database(shell: Shell, token: str) -> auth.Caller | None:
    with shell.database.session() as db:
        return auth.caller_for_token(db, token=token, now=shell.clock(), cache=shell.token_cache)


class TokenProblem(Exception):
    """A bearer-token failure, answered per RFC 6750 §3."""

    def __init__(self, status: int, error: str, description: str) -> None:
        super().__init__(description)
        self.status, self.error, self.description = status, error, description


def wants_json(request: Request) -> bool:
    path = request.url.path
    return path.startswith(("/v1/", "/oauth/", "/api/")) or "/api/" in path


def install_error_pages(app: FastAPI) -> None:
    """Map domain errors, missing pages and crashes to translated pages or JSON naming the field."""

    @app.exception_handler(DomainError)
    async def domain_error(request: Request, error: DomainError) -> Response:
        if wants_json(request):
            return JSONResponse({"field": error.field, "reason": error.reason}, status_code=error.status_code)
        return _error_page(request, error.status_code, error.reason, error.field)

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
        return RedirectResponse(f"/login?next={target}", status_code=303)

    @app.exception_handler(RoleMissing)
    async def role_missing(request: Request, _: RoleMissing) -> Response:
        if wants_json(request):
            return JSONResponse({"field": None, "reason": "your role does not allow this"}, status_code=403)
        return _error_page(request, 403, "Your role does not allow this page.", None)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException) -> Response:
        headers = getattr(error, "headers", None)
        if wants_json(request):
            body = {"field": None, "reason": str(error.detail)}
            return JSONResponse(body, status_code=error.status_code, headers=headers)
        page = _error_page(request, error.status_code, str(error.detail), None)
        page.headers.update(headers or {})
        return page

    @app.exception_handler(Exception)
    async def crash(request: Request, error: Exception) -> Response:
        import logging

        logging.getLogger("tocsin").exception("unhandled error on %s", request.url.path)
        if wants_json(request):
            return JSONResponse({"field": None, "reason": "internal error"}, status_code=500)
        return _error_page(request, 500, "Something went wrong on our side.", None)


def _error_page(request: Request, status: int, reason: str, field_name: str | None) -> Response:
    shell = shell_of(request)
    if not hasattr(request.state, "lang"):
        request.state.lang = shell.settings.default_language
    return shell.render(
        request, "error.html", status_code=status, status=status, reason=reason, field=field_name
    )


class LanguageMiddleware:
    """Pick the page language per request; ``?lang=xx`` also sets a cookie for the next pages.

    Plain ASGI (not BaseHTTPMiddleware): it runs on every API call too, so it must cost next to nothing.
    """

    def __init__(self, app: Any, shell: Shell) -> None:
        self.app, self.shell = app, shell

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        query = request.query_params.get("lang")
        lang = self.shell.catalogs.pick(
            query=query,
            cookie=request.cookies.get("lang"),
            accept=request.headers.get("accept-language"),
            default=self.shell.settings.default_language,
        )
        scope.setdefault("state", {})["lang"] = lang
        remember = query is not None and query == lang

        async def send_with_language(message: Any) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("Content-Language", lang)
                if remember:
                    headers.append("Set-Cookie", f"lang={lang}; Max-Age=31536000; Path=/; SameSite=lax")
            await send(message)

        await self.app(scope, receive, send_with_language)


def shell_router() -> APIRouter:
    """Home, login/logout, health and the OAuth2 token endpoint."""
    router = APIRouter()

    @router.get("/", response_class=HTMLResponse, include_in_schema=False)
    def home(request: Request) -> Response:
        return shell_of(request).render(request, "home.html")

    @router.get("/ping", include_in_schema=False)
    async def ping() -> dict[str, str]:
        """Constant answer with no database work: liveness, and the framework ceiling in benchmarks."""
        return {"status": "ok"}

    @router.get("/healthz", include_in_schema=False)
    def health(request: Request, db: Session = Depends(get_db)) -> dict[str, str]:
        from sqlalchemy import text

        db.execute(text("SELECT 1"))
        return {"status": "ok", "database": shell_of(request).database.dialect}

    @router.get("/login", response_class=HTMLResponse, include_in_schema=False)
    def login_form(request: Request, next: str = "/") -> Response:
        return shell_of(request).render(request, "login.html", next=_safe_next(next))

    @router.post("/login", include_in_schema=False, dependencies=[Depends(check_csrf)])
    def login(
        request: Request,
        username: str = Form(""),
        password: str = Form(""),
        next: str = Form("/"),
        db: Session = Depends(get_db),
    ) -> Response:
        shell = shell_of(request)
        errors = []
        if not username.strip():
            errors.append(("username", shell.gettext(request, "Enter your user name.")))
        if not password:
            errors.append(("password", shell.gettext(request, "Enter your password.")))
        user = None if errors else auth.authenticate_staff(db, username=username.strip(), password=password)
        if not errors and user is None:
            errors.append(("password", shell.gettext(request, "User name or password is wrong.")))
        if errors:
            return shell.render(
                request,
                "login.html",
                status_code=400,
                errors=errors,
                next=_safe_next(next),
                username=username,
            )
        assert user is not None
        request.session.clear()
        request.session["user_id"] = user.id
        audit.record(
            db,
            at=shell.clock(),
            actor=user.username,
            action="staff.login",
            object_type="staff_user",
            object_id=user.id,
        )
        return RedirectResponse(_safe_next(next), status_code=303)

    @router.post("/logout", include_in_schema=False, dependencies=[Depends(check_csrf)])
    def logout(request: Request) -> Response:
        request.session.clear()
        return RedirectResponse("/", status_code=303)

    @router.post("/oauth/token", tags=["auth"])
    async def token(request: Request) -> Response:
        """OAuth2 client-credentials grant (RFC 6749 §4.4); client authenticates with Basic or body."""
        form = await request.form()
        shell = shell_of(request)
        client_id, secret = _client_credentials(request, form)
        if form.get("grant_type") != "client_credentials":
            return _oauth_error(400, "unsupported_grant_type", "grant_type must be client_credentials")
        if not client_id or secret is None:
            return _oauth_error(401, "invalid_client", "client authentication required")
        scope = form.get("scope")
        requested = set(str(scope).split()) if scope else None
        with shell.database.session() as db:
            try:
                issued = auth.issue_token(
                    db,
                    client_id=client_id,
                    secret=secret,
                    requested=requested,
                    now=shell.clock(),
                    lifetime=shell.settings.token_lifetime,
                )
            except ValueError as error:
                return _oauth_error(400, "invalid_scope", str(error))
            if issued is None:
                return _oauth_error(401, "invalid_client", "unknown client or wrong secret")
            token_value, _, scopes = issued
        body = {
            "access_token": token_value,
            "token_type": "Bearer",
            "expires_in": shell.settings.token_lifetime,
            "scope": " ".join(scopes),
        }
        return JSONResponse(body, headers={"Cache-Control": "no-store", "Pragma": "no-cache"})

    return router


def _client_credentials(request: Request, form: Any) -> tuple[str | None, str | None]:
    header = request.headers.get("authorization", "")
    if header.lower().startswith("basic "):
        try:
            decoded = base64.b64decode(header[6:]).decode()
        except (ValueError, UnicodeDecodeError):
            return None, None
        user, _, password = decoded.partition(":")
        return unquote(user), unquote(password)
    client_id, secret = form.get("client_id"), form.get("client_secret")
    return (str(client_id) if client_id else None), (str(secret) if secret is not None else None)


def _oauth_error(status: int, error: str, description: str) -> JSONResponse:
    headers = {"Cache-Control": "no-store"}
    if status == 401:
        headers["WWW-Authenticate"] = 'Basic realm="tocsin"'
    return JSONResponse(
        {"error": error, "error_description": description}, status_code=status, headers=headers
    )


def _safe_next(target: str) -> str:
    """Only local paths, so the login form cannot bounce a user to another site."""
    return target if target.startswith("/") and not target.startswith("//") else "/"


def _thread_limit(threads: int) -> Callable[[FastAPI], Any]:
    """Size the thread pool that runs the sync routes (fewer threads, less GIL contention under load)."""
    from contextlib import asynccontextmanager

    import anyio.to_thread

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> Any:
        anyio.to_thread.current_default_thread_limiter().total_tokens = threads
        yield

    return lifespan


def build_app(shell: Shell) -> FastAPI:
    """The FastAPI app: shell routes, every desk's routers, static files, errors, language, sessions."""
    app = FastAPI(
        title="Tocsin",
        version="0.1.0",
        docs_url="/api/docs",
        openapi_url="/api/openapi.json",
        lifespan=_thread_limit(shell.settings.threads),
    )
    app.state.shell = shell
    install_error_pages(app)
    app.add_middleware(
        SessionMiddleware,
        secret_key=shell.settings.secret_key,
        same_site="lax",
        https_only=shell.settings.secure_cookies,
        session_cookie="tocsin_session",
    )
    app.add_middleware(LanguageMiddleware, shell=shell)
    app.include_router(shell_router())
    app.mount("/static/core", StaticFiles(directory=str(HERE / "static")), name="static-core")
    for desk in shell.desks:
        for router in desk.routers:
            app.include_router(router)
        if desk.static:
            app.mount(
                f"/static/{desk.name}", StaticFiles(directory=str(desk.static)), name=f"static-{desk.name}"
            )
        if desk.on_start:
            desk.on_start(app)
    return app
