"""Plain ASGI middleware (cheap enough to run on every partner call): language, security headers and a
deadline for request bodies."""

from __future__ import annotations

from typing import Any

import anyio
from starlette.datastructures import MutableHeaders
from starlette.requests import Request

from tocsin.core.web.errors import BodyTimeout

# Pages use only their own scripts and styles; nothing may frame them (clickjacking).
PAGE_POLICY = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)
# FastAPI's Swagger page loads its bundle from a CDN and starts it with an inline script.
DOCS_POLICY = (
    "default-src 'self'; img-src 'self' data: https://fastapi.tiangolo.com; "
    "style-src 'self' https://cdn.jsdelivr.net; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
    "object-src 'none'; base-uri 'self'; frame-ancestors 'none'"
)
HSTS = "max-age=31536000; includeSubDomains"


class LanguageMiddleware:
    """Pick the page language per request; ``?lang=xx`` also sets a cookie for the next pages."""

    def __init__(self, app: Any, shell: Any) -> None:
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
            default=self.shell.language_default(scope["path"]),
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


class SecurityHeaders:
    """CSP with frame-ancestors, nosniff, a strict referrer policy, and HSTS on HTTPS requests."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        policy = DOCS_POLICY if scope["path"] == "/api/docs" else PAGE_POLICY
        https = scope.get("scheme") == "https"

        async def send_with_headers(message: Any) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("Content-Security-Policy", policy)
                headers.setdefault("X-Content-Type-Options", "nosniff")
                headers.setdefault("X-Frame-Options", "DENY")
                headers.setdefault("Referrer-Policy", "same-origin")
                if https:
                    headers.setdefault("Strict-Transport-Security", HSTS)
            await send(message)

        await self.app(scope, receive, send_with_headers)


class BodyDeadline:
    """A request body must arrive within ``seconds`` of the first read, so a client that trickles it
    cannot hold a worker forever; the route then answers 408 (see ``errors.BodyTimeout``)."""

    def __init__(self, app: Any, seconds: float) -> None:
        self.app, self.seconds = app, seconds

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        deadline: list[float] = []
        complete = False

        async def receive_in_time() -> Any:
            nonlocal complete
            if complete:  # body read: later reads only wait for a disconnect (long responses)
                return await receive()
            if not deadline:
                deadline.append(anyio.current_time() + self.seconds)
            left = deadline[0] - anyio.current_time()
            if left <= 0:
                raise BodyTimeout()
            with anyio.move_on_after(left) as waited:
                message = await receive()
            if waited.cancelled_caught:
                raise BodyTimeout()
            complete = message["type"] != "http.request" or not message.get("more_body", False)
            return message

        await self.app(scope, receive_in_time, send)
