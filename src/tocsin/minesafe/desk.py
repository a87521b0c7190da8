"""The minesafe desk, declared once (its pages come with the dispatch issue)."""

from tocsin.core.desk import Desk
from tocsin.minesafe import cli

desk = Desk(
    name="minesafe",
    title="Mine safety",
    cli=cli.app,
    languages=("ru", "en"),
    default_language="ru",
    timezone="Asia/Yekaterinburg",
)
