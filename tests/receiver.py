"""A real HTTP server on loopback that plays a partner: records what arrives, answers as told."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tests.support import free_port


@dataclass
class Receiver:
    """Answers are taken from ``script`` in order (status, body, delay seconds); then ``default``."""

    url: str = ""
    script: list[tuple[int, Any, float]] = field(default_factory=list)
    default: tuple[int, Any, float] = (200, {"Code_Reponse": 0, "Libelle_Reponse": "OK"}, 0.0)
    received: list[dict[str, Any]] = field(default_factory=list)
    tokens_issued: int = 0

    def answer(self) -> tuple[int, Any, float]:
        return self.script.pop(0) if self.script else self.default


def make_app(receiver: Receiver) -> Starlette:
    async def message(request: Request) -> JSONResponse:
        status, body, delay = receiver.answer()
        receiver.received.append(
            {
                "path": request.url.path,
                "json": await request.json(),
                "headers": dict(request.headers),
                "at": time.time(),
            }
        )
        if delay:
            import asyncio

            await asyncio.sleep(delay)
        return JSONResponse(body, status_code=status)

    async def token(request: Request) -> JSONResponse:
        receiver.tokens_issued += 1
        return JSONResponse(
            {"access_token": f"tok-{receiver.tokens_issued}", "token_type": "Bearer", "expires_in": 3600}
        )

    return Starlette(
        routes=[
            Route("/oauth/token", token, methods=["POST"]),
            Route("/v1/{name}", message, methods=["POST"]),
        ]
    )


@contextmanager
def running(app: Any, port: int | None = None) -> Iterator[str]:
    """Serve an ASGI app on a free loopback port in a thread; yields its base URL."""
    port = port or free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("test server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@contextmanager
def partner() -> Iterator[Receiver]:
    receiver = Receiver()
    with running(make_app(receiver)) as url:
        receiver.url = url
        yield receiver
