"""Serving the web app with uvicorn, shared by ``tocsin serve`` and ``tocsin demo``."""

from __future__ import annotations

from tocsin.core.config import Settings, secret_key_of


def serve(settings: Settings, *, host: str, port: int, workers: int) -> None:
    """Run uvicorn until interrupted; raises MissingSecretKey before starting when no key is set."""
    import uvicorn

    secret_key_of(settings)
    uvicorn.run(
        "tocsin.app:asgi",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="info",
        access_log=False,
        proxy_headers=True,
        forwarded_allow_ips=settings.forwarded_allow_ips,
        timeout_keep_alive=5,
        # Live pages keep their event streams open; on shutdown they are cut after this many seconds
        # (browsers reconnect to the next process and resume from their last event).
        timeout_graceful_shutdown=5,
    )
