"""The interventions desk as the web shell sees it: routers, templates, translations, menu."""

from pathlib import Path

from tocsin.core.desk import Desk, NavLink
from tocsin.interventions import api, do_pages, oc_pages, oi_pages, outages_api

HERE = Path(__file__).parent

desk = Desk(
    name="interventions",
    title="Interventions",
    routers=[api.router, do_pages.router, oi_pages.router, oc_pages.router, outages_api.router],
    templates=HERE / "templates",
    locales=HERE / "locales",
    static=HERE / "static",
    languages=("fr", "en"),
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
