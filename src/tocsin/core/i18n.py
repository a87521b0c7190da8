"""Translations: Babel ``.po`` catalogs (core's and each desk's), merged per language at start."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from babel.messages.pofile import read_po

LANGUAGES = {"fr": "Français", "en": "English", "ru": "Русский", "vi": "Tiếng Việt"}
CORE_LOCALES = Path(__file__).parent / "locales"


class Catalogs:
    """Message lookups for every language, read from one or more ``locales`` folders."""

    def __init__(self, folders: Iterable[Path], languages: Iterable[str]) -> None:
        wanted = [lang for lang in languages if lang in LANGUAGES]
        self.messages: dict[str, dict[str, str]] = {lang: {} for lang in wanted}
        self.folders: dict[Path, set[str]] = {}
        for folder in folders:
            self.folders[folder] = set()
            for lang in wanted:
                for po in sorted((folder / lang / "LC_MESSAGES").glob("*.po")):
                    self.messages[lang].update(_read(po))
                    self.folders[folder].add(lang)
        # A language is offered only where it has translations (English is the source language).
        self.languages = [lang for lang in wanted if lang == "en" or self.messages[lang]]

    def covers(self, folder: Path | None, lang: str) -> bool:
        """Whether ``folder`` (a desk's locales) has a catalog in ``lang`` (always true for English)."""
        return lang == "en" or (folder is not None and lang in self.folders.get(folder, set()))

    def gettext(self, lang: str, text: str) -> str:
        """The translation of ``text`` in ``lang``; the English source text when none exists."""
        return self.messages.get(lang, {}).get(text) or text

    def pick(self, *, query: str | None, cookie: str | None, accept: str | None, default: str) -> str:
        """Language from ?lang=, then the cookie, then Accept-Language, then the default."""
        for candidate in (query, cookie):
            if candidate in self.languages:
                return candidate
        for part in (accept or "").split(","):
            code = part.split(";")[0].strip().lower()[:2]
            if code in self.languages:
                return code
        return default if default in self.languages else self.languages[0]


def _read(po: Path) -> dict[str, str]:
    with po.open("rb") as handle:
        catalog = read_po(handle)
    return {str(m.id): str(m.string) for m in catalog if m.id and m.string and not m.fuzzy}
