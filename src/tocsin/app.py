"""Builds the web app from the desks that are enabled in the settings."""

from __future__ import annotations

from fastapi import FastAPI

from tocsin import desks
from tocsin.core.clock import Clock, utc_now
from tocsin.core.config import Settings, get_settings
from tocsin.core.db import Database
from tocsin.core.web import Shell, build_app


def create_app(
    settings: Settings | None = None, *, database: Database | None = None, clock: Clock = utc_now
) -> FastAPI:
    """The whole web app for these settings (tests pass their own database and clock)."""
    settings = settings or get_settings()
    database = database or Database(settings.database_url)
    shell = Shell(settings, database, desks.load(settings.desks), clock=clock)
    return build_app(shell)


def asgi() -> FastAPI:
    """Factory for ``uvicorn --factory tocsin.app:asgi``."""
    return create_app()
