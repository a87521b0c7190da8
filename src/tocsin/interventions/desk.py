"""The interventions desk, declared once: routers, tables, jobs, commands, demo data, menu."""

from pathlib import Path

from sqlalchemy.orm import Session

from tocsin.core.desk import Desk, NavLink
from tocsin.interventions import api, cli, demo, do_pages, jobs, oc_pages, oi_pages, outages_api
from tocsin.interventions.models import DeskConfig

HERE = Path(__file__).parent


def configured_zone(db: Session) -> str | None:
    """The time zone of the loaded configuration file, if one is loaded."""
    config = db.get(DeskConfig, 1)
    return config.timezone if config else None


desk = Desk(
    name="interventions",
    title="Interventions",
    routers=[api.router, do_pages.router, oi_pages.router, oc_pages.router, outages_api.router],
    models=["tocsin.interventions.models"],
    jobs=jobs.JOBS,
    cli=cli.app,
    demo=demo.load_demo,
    templates=HERE / "templates",
    locales=HERE / "locales",
    static=HERE / "static",
    languages=("fr", "en"),
    default_language="fr",
    timezone="Europe/Paris",
    zone_of=configured_zone,
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
