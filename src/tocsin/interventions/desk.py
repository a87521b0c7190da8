"""The interventions desk, declared once: routers, tables, jobs, commands, demo data, menu."""

from collections.abc import Callable
from pathlib import Path

from sqlalchemy.orm import Session

from tocsin.core.desk import Desk, NavLink
from tocsin.interventions import cli, demo, jobs
from tocsin.interventions.config import DEFAULT_TIMEZONE, configured_zone
from tocsin.interventions.do import pages as do_pages
from tocsin.interventions.models import DeskConfig
from tocsin.interventions.oc import api as oc_api
from tocsin.interventions.oc import imports as oc_imports
from tocsin.interventions.oc import outages_api
from tocsin.interventions.oc import pages as oc_pages
from tocsin.interventions.oi import alerts
from tocsin.interventions.oi import api as oi_api
from tocsin.interventions.oi import pages as oi_pages
from tocsin.interventions.oi.search import INTERVENTIONS

HERE = Path(__file__).parent
READERS = ("operator", "viewer")
ROLES = ("oi", "oc", "do")


def plays(role: str) -> Callable[[Session], bool]:
    """A menu condition: this deployment's loaded configuration plays ``role`` (OI, OC or DO)."""

    def check(db: Session) -> bool:
        config = db.get(DeskConfig, 1)
        return config is not None and role in config.roles

    return check


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
    jobs=[*jobs.JOBS, alerts.DIGEST],
    cli=cli.app,
    demo=demo.load_demo,
    templates={role: HERE / role / "templates" for role in ROLES},
    locales=HERE / "locales",
    static={"do": HERE / "do" / "static"},
    languages=("fr", "en"),
    default_language="fr",
    timezone=DEFAULT_TIMEZONE,
    zone_of=configured_zone,
    notifications=[alerts.DELIVERY_FAILED, alerts.OPEN_FAILURES],
    file_kinds=[oc_imports.OUTAGE_FILES],
    search=[INTERVENTIONS],
    nav=[
        NavLink("Interventions", "interventions_list", READERS, plays("OI"), group="oi"),
        NavLink("Failed deliveries", "failed_deliveries", ("operator",), group="oi"),
        NavLink("Rejected messages", "rejections", READERS, plays("OI"), group="oi"),
        NavLink("Referential", "referential", READERS, group="oi"),
        NavLink("Statistics", "statistics_page", READERS, plays("OI"), group="oi"),
        NavLink("Technician", "technician_page", ("technician",), plays("DO"), ("technician",), group="do"),
        NavLink(
            "Rejected declarations", "rejected_page", ("operator", "technician"), plays("DO"), group="do"
        ),
        NavLink("Received interventions", "received_list", READERS, plays("OC"), group="oc"),
        NavLink("Outage feed", "outage_feed", READERS, plays("OC"), group="oc"),
    ],
)
