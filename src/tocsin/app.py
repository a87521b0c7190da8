"""Builds the web app from the desks that are enabled in the settings."""

from __future__ import annotations

from importlib import import_module
from types import ModuleType

from fastapi import FastAPI

from tocsin.core.clock import Clock, utc_now
from tocsin.core.config import Settings, get_settings
from tocsin.core.db import Database
from tocsin.core.desk import Desk
from tocsin.core.web import Shell, build_app

DESKS = {
    "interventions": "tocsin.interventions.desk",
    "minesafe": "tocsin.minesafe.desk",
}


def load_desks(names: list[str]) -> list[Desk]:
    """Import each enabled desk's ``desk`` object (unknown names are a configuration error)."""
    unknown = [n for n in names if n not in DESKS]
    if unknown:
        raise ValueError(f"TOCSIN_DESKS: unknown desk(s) {unknown}; known: {sorted(DESKS)}")
    return [import_module(DESKS[n]).desk for n in names]


def desk_part(name: str, part: str) -> ModuleType | None:
    """A desk's optional module (``jobs``, ``demo``, ``cli``), or None when the desk has none."""
    module_name = DESKS[name].rsplit(".", 1)[0] + f".{part}"
    try:
        return import_module(module_name)
    except ModuleNotFoundError as error:
        if error.name != module_name:
            raise
        return None


def create_app(
    settings: Settings | None = None, *, database: Database | None = None, clock: Clock = utc_now
) -> FastAPI:
    """The whole web app for these settings (tests pass their own database and clock)."""
    settings = settings or get_settings()
    database = database or Database(settings.database_url)
    shell = Shell(settings, database, load_desks(settings.desks), clock=clock)
    return build_app(shell)


def asgi() -> FastAPI:
    """Factory for ``uvicorn --factory tocsin.app:asgi``."""
    return create_app()
