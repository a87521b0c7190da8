"""The appeals desk, declared once. First increment: its storage and rules; no pages or API yet, so no
menu (docs/appeals.md says what is built)."""

from tocsin.core.desk import Desk

desk = Desk(
    name="appeals",
    title="Appeals",
    models=["tocsin.appeals.models"],
    languages=("ru", "en"),
    default_language="ru",
    timezone="Europe/Moscow",
)
