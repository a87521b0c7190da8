"""Builds the FastAPI app: shell routes, file downloads, every desk's routers, static files, errors
and middleware."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import asynccontextmanager
from typing import Any

import anyio.to_thread
from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.middleware.sessions import SessionMiddleware
from starlette.middleware.trustedhost import TrustedHostMiddleware

from tocsin.core.config import secret_key_of
from tocsin.core.files import web as files_web
from tocsin.core.notify import pages as notify_pages
from tocsin.core.web import oauth, routes
from tocsin.core.web.errors import install_error_pages
from tocsin.core.web.middleware import BodyDeadline, LanguageMiddleware, SecurityHeaders
from tocsin.core.web.shell import HERE, Shell


def _thread_limit(threads: int) -> Callable[[FastAPI], Any]:
    """Size the thread pool that runs the sync routes (fewer threads, less GIL contention under load)."""

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> Any:
        anyio.to_thread.current_default_thread_limiter().total_tokens = threads
        yield

    return lifespan


def refuse_twice_named_routes(app: FastAPI) -> None:
    """Pages name the routes they link to: two routes with one name would send a link to the wrong page."""
    seen: dict[str, str] = {}
    for route in _every_route(app.router.routes):
        name, path = getattr(route, "name", None), getattr(route, "path", "")
        if name is None:
            continue
        if name in seen and seen[name] != path:
            raise ValueError(f"route name {name!r} is used for {seen[name]} and {path}: name one differently")
        seen.setdefault(name, path)


def _every_route(routes: Any) -> Any:
    """Routes, including those of included routers (FastAPI keeps those behind a wrapper)."""
    for route in routes:
        inner = getattr(route, "original_router", None)
        yield from _every_route(inner.routes) if inner is not None else [route]


def build_app(shell: Shell) -> FastAPI:
    """The web app; raises MissingSecretKey when no key signs the session cookies."""
    settings = shell.settings
    app = FastAPI(
        title="Tocsin",
        version="0.1.0",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        lifespan=_thread_limit(settings.threads),
    )
    app.state.shell = shell
    install_error_pages(app)
    app.add_middleware(LanguageMiddleware, shell=shell)
    app.add_middleware(
        SessionMiddleware,
        secret_key=secret_key_of(settings),
        same_site="lax",
        https_only=settings.secure_cookies,
        session_cookie="tocsin_session",
        max_age=settings.session_max_hours * 3600,
    )
    app.add_middleware(BodyDeadline, seconds=settings.read_timeout)
    app.add_middleware(TrustedHostMiddleware, allowed_hosts=settings.allowed_hosts)
    app.add_middleware(SecurityHeaders)
    app.include_router(routes.router)
    app.include_router(oauth.router)
    app.include_router(notify_pages.router)
    app.include_router(files_web.router)
    app.mount("/static/core", StaticFiles(directory=str(HERE / "static")), name="static-core")
    for desk in shell.desks:
        for router in desk.routers:
            app.include_router(router)
    refuse_twice_named_routes(app)
    for desk in shell.desks:
        for url, folder in desk.static_folders().items():
            app.mount(url, StaticFiles(directory=str(folder)), name=url.strip("/").replace("/", "-"))
        if desk.on_start:
            desk.on_start(app)
    return app
