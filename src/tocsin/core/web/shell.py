"""Per-app services the routes need: settings, database, clock, translations, templates, token cache,
the file store and the desks' kinds of files."""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import anyio
from fastapi import Depends, Request
from fastapi.responses import HTMLResponse
from jinja2 import BaseLoader, ChoiceLoader, Environment, FileSystemLoader, PrefixLoader, select_autoescape
from sqlalchemy.orm import Session

from tocsin.core.auth import partners, throttle
from tocsin.core.auth.staff import SessionRules
from tocsin.core.clock import Clock, utc_now
from tocsin.core.config import Settings
from tocsin.core.db import Database
from tocsin.core.desk import Desk, NavLink
from tocsin.core.files.store import FileKind, FileStore
from tocsin.core.i18n import CORE_LOCALES, LANGUAGES, Catalogs
from tocsin.core.web.formatting import Formatter

HERE = Path(__file__).resolve().parent.parent
SECRET_CHECKS_AT_ONCE = 2  # argon2 verifications running together per process (each uses a core)
CORE_MENU = "General"  # the shell's own pages, before the desks' menus
CORE_NAV = (
    NavLink("Notifications", "notifications", ("operator",)),
    NavLink("Your profile", "account"),
)


class Shell:
    """What every route of one app shares."""

    def __init__(
        self, settings: Settings, database: Database, desks: list[Desk], clock: Clock = utc_now
    ) -> None:
        self.settings, self.database, self.desks, self.clock = settings, database, desks, clock
        self.default_language = settings.default_language or (desks[0].default_language if desks else "en")
        self.default_zone = ZoneInfo(settings.timezone or (desks[0].timezone if desks else "UTC"))
        languages = sorted({"en", self.default_language, *[lang for d in desks for lang in d.languages]})
        folders = [CORE_LOCALES, *[d.locales for d in desks if d.locales]]
        self.catalogs = Catalogs(folders, languages)
        loaders = [_loader(d.templates) for d in desks if d.templates]
        self.templates = Environment(
            loader=ChoiceLoader([*loaders, FileSystemLoader(str(HERE / "templates"))]),
            autoescape=select_autoescape(["html"]),
        )
        self.token_cache = partners.TokenCache()
        self.known_locks = throttle.KnownLocks()
        self.session_rules = SessionRules(
            idle=timedelta(minutes=settings.session_idle_minutes),
            lifetime=timedelta(hours=settings.session_max_hours),
        )
        self.files = FileStore.from_settings(settings)
        self.file_kinds = file_kinds_of(desks)
        self._limiters: weakref.WeakKeyDictionary[Any, anyio.CapacityLimiter] = weakref.WeakKeyDictionary()

    def secret_checks(self) -> anyio.CapacityLimiter:
        """The threads allowed to run argon2 at once in this event loop, apart from the routes' pool."""
        loop = asyncio.get_running_loop()
        if loop not in self._limiters:
            self._limiters[loop] = anyio.CapacityLimiter(SECRET_CHECKS_AT_ONCE)
        return self._limiters[loop]

    def render(self, request: Request, name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
        """Render a page in the request's language with the layout's common context."""
        from tocsin.core.web.csrf import csrf_token
        from tocsin.core.web.sessions import current_user

        lang = request.state.lang
        user = current_user(request)
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
            url=partial(path_to, request),
            nav=self.nav_for(request),
            desks=self.desks,
            fmt=self.formatter(request),
            **context,
        )
        return HTMLResponse(page, status_code=status_code)

    def zone_for(self, request: Request, db: Session | None = None) -> ZoneInfo:
        """The zone a page shows times in: its desk's configured zone (read with ``db``, else with the
        request's session while the route holds one), else the desk's default; the deployment's zone on
        the shell's own pages. A page without a session (an error page) never opens one for this."""
        desk = self.desk_at(request.url.path)
        if desk is None:
            return self.default_zone
        db = db or getattr(request.state, "db", None)
        configured = desk.zone_of(db) if desk.zone_of is not None and db is not None else None
        return ZoneInfo(configured or desk.timezone)

    def formatter(self, request: Request, db: Session | None = None) -> Formatter:
        """How this page shows times and numbers: the reader's language, the page's zone; built once
        per request, and given to every template as ``fmt``. A route that opens its own session passes
        it (``db``) the first time."""
        made: Formatter | None = getattr(request.state, "formatter", None)
        if made is None:
            made = Formatter(request.state.lang, self.zone_for(request, db))
            request.state.formatter = made
        return made

    def desk_at(self, path: str) -> Desk | None:
        """The desk whose pages live under this path (``/interventions/…``), if any."""
        first = path.strip("/").split("/")[0]
        return next((d for d in self.desks if d.name == first), None)

    def language_default(self, path: str) -> str:
        """The language of a page when the reader asked for none: its desk's, else the deployment's."""
        desk = self.desk_at(path)
        return desk.default_language if desk else self.default_language

    def languages_for(self, request: Request) -> list[str]:
        """The languages offered on this page: those its desk is translated into (and English), or
        every translated one on the shell's own pages."""
        desk = self.desk_at(request.url.path)
        if desk is None:
            return list(self.catalogs.languages)
        wanted = {lang for lang in desk.languages if self.catalogs.covers(desk.locales, lang)} | {"en"}
        return [lang for lang in self.catalogs.languages if lang in wanted]

    def nav_for(self, request: Request) -> list[Menu]:
        """The menus this reader may use: links their roles open, on pages this deployment has, the
        current page marked."""
        from tocsin.core.web.sessions import roles_of_request

        roles = roles_of_request(request)
        if not roles:
            return []
        path = request.url.path
        offered = [(CORE_MENU, [link for link in CORE_NAV if link.allows(roles)])]
        offered += [(desk.title, [link for link in desk.nav if link.allows(roles)]) for desk in self.desks]
        if any(link.show for _, links in offered for link in links):
            with self.database.session() as db:
                offered = [(d, [x for x in links if x.show is None or x.show(db)]) for d, links in offered]
        menus = []
        for title, links in offered:
            found = [(link, request.app.url_path_for(link.route)) for link in links]
            marked = [Entry(link, url, path == url or path.startswith(url + "/")) for link, url in found]
            if marked:
                menus.append(Menu(title, marked, any(entry.current for entry in marked)))
        return menus

    def landing(self, request: Request) -> str | None:
        """The page a reader with a single purpose goes to from the home page (a technician's phone page)."""
        from tocsin.core.web.sessions import roles_of_request

        roles = roles_of_request(request) - {"viewer"}
        for desk in self.desks:
            for link in desk.nav:
                if link.landing_for and roles and roles <= set(link.landing_for):
                    return request.app.url_path_for(link.route)
        return None

    def gettext(self, request: Request, text: str) -> str:
        return self.catalogs.gettext(request.state.lang, text)


@dataclass(frozen=True)
class Entry:
    """A menu link as shown: its declaration, its path, whether it is the page being read."""

    link: NavLink
    url: str
    current: bool


@dataclass(frozen=True)
class Menu:
    """One desk's menu (or the shell's): its entries, and whether one is the current page."""

    title: str
    entries: list[Entry]
    current: bool

    def tabs(self, group: str) -> list[Entry]:
        """The entries of one group of the desk (a role's pages), for the tabs on those pages."""
        return [entry for entry in self.entries if entry.link.group == group]


def path_to(request: Request, name: str, /, query: Mapping[str, Any] | None = None, **params: Any) -> str:
    """The path of the route called ``name`` (with its path ``params``), and a query string if given:
    pages and redirects name routes, they never spell paths."""
    path = str(request.app.url_path_for(name, **{k: str(v) for k, v in params.items()}))
    wanted = {k: v for k, v in (query or {}).items() if v not in (None, "")}
    return f"{path}?{urlencode(wanted)}" if wanted else path


def file_kinds_of(desks: list[Desk]) -> dict[str, FileKind]:
    """Every enabled desk's kinds of files by name; two desks may not claim one name."""
    kinds: dict[str, FileKind] = {}
    for desk in desks:
        for kind in desk.file_kinds:
            if kind.name in kinds:
                raise ValueError(f"file kind {kind.name!r} is declared twice (desk {desk.name})")
            kinds[kind.name] = kind
    return kinds


def _loader(templates: Path | Mapping[str, Path]) -> BaseLoader:
    if isinstance(templates, Path):
        return FileSystemLoader(str(templates))
    return PrefixLoader({prefix: FileSystemLoader(str(folder)) for prefix, folder in templates.items()})


def shell_of(request: Request) -> Shell:
    return request.app.state.shell


def formatter_of(request: Request, db: Session | None = None) -> Formatter:
    """The page's formatter (the reader's language, the desk's zone): the ``fmt`` its template gets."""
    return shell_of(request).formatter(request, db)


def get_db(request: Request) -> Iterator[Session]:
    """A request-scoped session: committed if the route returns, rolled back if it raises. While the
    route runs, ``request.state.db`` holds it too, so the page's formatter reads the desk's zone with it."""
    with shell_of(request).database.session() as db:
        request.state.db = db
        try:
            yield db
        finally:
            request.state.db = None


# Committed before the response leaves (scope="function"): a client that sees a success and loads the
# next page at once must find the change stored.
DB = Depends(get_db, scope="function")
Db = Annotated[Session, DB]
