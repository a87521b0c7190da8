"""The minesafe desk, declared once: tables, API, the dispatch room's pages (live, history, reports),
commands, menu."""

from pathlib import Path

from tocsin.core.desk import Desk, NavLink
from tocsin.minesafe import (
    alerts,
    api,
    checkouts,
    cli,
    demo,
    muster,
    pages,
    registry,
    reports,
    retention,
    zone_pages,
    zones,
)

HERE = Path(__file__).parent

desk = Desk(
    name="minesafe",
    title="Mine safety",
    routers=[
        api.router,
        pages.router,
        muster.router,
        reports.router,
        registry.router,
        checkouts.router,
        zone_pages.router,
    ],
    models=["tocsin.minesafe.models"],
    cli=cli.app,
    templates={"minesafe": HERE / "templates"},
    locales=HERE / "locales",
    static=HERE / "static",
    languages=("ru", "en"),
    default_language="ru",
    timezone="Asia/Yekaterinburg",
    nav=[
        NavLink("Dispatch room", "minesafe_dispatch", pages.READER_ROLES),
        NavLink("Who is in the pit", "minesafe_muster", pages.READER_ROLES),
        NavLink("Gatehouse", "minesafe_gatehouse", pages.READER_ROLES),
        NavLink("History", "minesafe_playback", pages.READER_ROLES),
        NavLink("Reports", "minesafe_reports", pages.READER_ROLES),
        NavLink("Trackers", "minesafe_trackers", pages.READER_ROLES),
        NavLink("Zones", "minesafe_zones", pages.READER_ROLES),
    ],
    jobs=[alerts.ESCALATE, retention.FORGET_POSITIONS],
    file_kinds=[zones.ORTHOPHOTOS],
    notifications=[alerts.ALARM],
    demo=demo.load_demo,
)
