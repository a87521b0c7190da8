"""The minesafe desk as the web shell sees it (pages come with the dispatch issue)."""

from pathlib import Path

from tocsin.core.desk import Desk

desk = Desk(
    name="minesafe",
    title="Mine safety",
    locales=Path(__file__).parent / "locales",
    languages=("ru", "en"),
)
