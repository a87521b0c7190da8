"""The interventions desk as the web shell sees it: routers, templates, translations, menu."""

from pathlib import Path

from tocsin.core.web import Desk
from tocsin.interventions import api

HERE = Path(__file__).parent

desk = Desk(
    name="interventions",
    title="Interventions",
    routers=[api.router],
    templates=HERE / "templates",
    locales=HERE / "locales",
    static=HERE / "static",
    languages=("fr", "en"),
    nav=[],
)
