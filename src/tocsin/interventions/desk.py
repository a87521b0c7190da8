"""The interventions desk, declared once: routers, tables, jobs, commands, demo data, menu."""

from pathlib import Path

from sqlalchemy.orm import Session

from tocsin.core.desk import Desk, NavLink
from tocsin.interventions import cli, demo, jobs
from tocsin.interventions.do import pages as do_pages
from tocsin.interventions.models import DeskConfig
from tocsin.interventions.oc import api as oc_api
from tocsin.interventions.oc import outages_api
from tocsin.interventions.oc import pages as oc_pages
from tocsin.interventions.oi import api as oi_api
from tocsin.interventions.oi import pages as oi_pages
from tocsin.interventions.oi.search import INTERVENTIONS

HERE = Path(__file__).parent
ROLES = ("oi", "oc", "do")


def configured_zone(db: Session) -> str | None:
    """The time zone of the loaded configuration file, if one is loaded."""
    config = db.get(DeskConfig, 1)
    return config.timezone if config else None


desk = Desk(
    name="interventions",
    title="Interventions",
    routers=[
        oi_api.router,
        oc_api.router,
        do_pages.router,
        oi_pages.router,
        oc_pages.router,
        outages_api.router,
    ],
    models=["tocsin.interventions.models"],
    jobs=jobs.JOBS,
    cli=cli.app,
    demo=demo.load_demo,
    templates={role: HERE / role / "templates" for role in ROLES},
    locales=HERE / "locales",
    static={"do": HERE / "do" / "static"},
    languages=("fr", "en"),
    default_language="fr",
    timezone="Europe/Paris",
    zone_of=configured_zone,
    search=[INTERVENTIONS],
    nav=[
        NavLink("Interventions", "/interventions/oi/interventions", ("operator", "viewer")),
        NavLink("Failed deliveries", "/interventions/oi/deliveries", ("operator",)),
        NavLink("Rejected messages", "/interventions/oi/rejections", ("operator", "viewer")),
        NavLink("Referential", "/interventions/oi/referential", ("operator", "viewer")),
        NavLink("Statistics", "/interventions/oi/statistics", ("operator", "viewer")),
        NavLink("Technician", "/interventions/do/technician", ("technician",)),
        NavLink("Rejected declarations", "/interventions/do/rejected", ("operator", "technician")),
        NavLink("Received interventions", "/interventions/oc/received", ("operator", "viewer")),
        NavLink("Outage feed", "/interventions/oc/outages", ("operator", "viewer")),
    ],
)
