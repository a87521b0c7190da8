"""The minesafe desk, declared once: tables, API, commands (its pages come with the dispatch room)."""

from tocsin.core.desk import Desk
from tocsin.minesafe import api, cli

desk = Desk(
    name="minesafe",
    title="Mine safety",
    routers=[api.router],
    models=["tocsin.minesafe.models"],
    cli=cli.app,
    languages=("ru", "en"),
    default_language="ru",
    timezone="Asia/Yekaterinburg",
)
