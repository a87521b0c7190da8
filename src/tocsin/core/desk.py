"""What a desk hands the core, in one object: its routers, tables, jobs, commands, demo data, menu,
translations, static files, templates, time zone, language, notification kinds, the kinds of files it
owns and its search indexes. Nothing else names a desk; the product's list of desks is ``tocsin.desks``."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter
from sqlalchemy.orm import Session

from tocsin.core.files.store import FileKind
from tocsin.core.scheduler import Job
from tocsin.core.search import SearchIndex

if TYPE_CHECKING:  # notify's kinds render with the web shell's formatter, which imports this module
    from tocsin.core.notify.kinds import Kind

DemoLoader = Callable[..., str]  # load_demo(db: Session, *, now: datetime) -> a one-line summary


@dataclass
class NavLink:
    """A menu entry, naming its page's route: shown to users holding one of ``roles`` (admin sees all);
    ``show`` may hide it on deployments where it makes no sense (e.g. OC pages on a deployment that is
    no OC); links of one ``group`` (a role of the desk) also make that group's tabs."""

    label: str
    route: str
    roles: tuple[str, ...] = ()
    show: Callable[[Session], bool] | None = None
    landing_for: tuple[str, ...] = ()  # users holding only these roles go straight here from "/"
    group: str = ""

    def allows(self, roles: set[str]) -> bool:
        """Whether a user with ``roles`` may follow this link (admin may follow every one)."""
        return not self.roles or "admin" in roles or bool(roles & set(self.roles))


@dataclass
class Desk:
    """One desk, declared once."""

    name: str
    title: str
    routers: list[APIRouter] = field(default_factory=list)
    models: Sequence[str] = ()  # modules that declare tables, for Alembic and the test fixtures
    jobs: Sequence[Job] = ()
    cli: Any = None  # a typer.Typer mounted as ``tocsin <name> …``
    demo: DemoLoader | None = None
    nav: list[NavLink] = field(default_factory=list)
    templates: Path | Mapping[str, Path] | None = None  # a mapping: template "oi/x.html" is oi_folder/x.html
    locales: Path | None = None
    static: Path | Mapping[str, Path] | None = None  # a mapping: /static/<desk>/<key>/… from each folder
    languages: tuple[str, ...] = ("en",)
    default_language: str = "en"
    timezone: str = "UTC"
    zone_of: Callable[[Session], str | None] | None = None  # the desk's configured zone, if it keeps one
    on_start: Callable[[Any], None] | None = None
    notifications: Sequence[Kind] = ()  # kinds its users may choose channels for on their profile
    file_kinds: Sequence[FileKind] = ()  # the desk objects that own files, and who may read them
    search: Sequence[SearchIndex] = ()  # full-text indexes, rebuilt by ``tocsin search rebuild``

    def static_folders(self) -> dict[str, Path]:
        """URL path → folder of the desk's static files."""
        if self.static is None:
            return {}
        if isinstance(self.static, Path):
            return {f"/static/{self.name}": self.static}
        return {f"/static/{self.name}/{key}": folder for key, folder in self.static.items()}

    def load_demo(self, db: Session, *, now: datetime) -> str | None:
        return self.demo(db, now=now) if self.demo else None
