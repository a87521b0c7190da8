"""The core has its own Russian catalog: every text the shell, its pages and its messages show, the
desks' titles and menus, and every kind of notification, are translated there (not only in a desk's
catalog); translations keep their placeholders and are never left empty or in English."""

from __future__ import annotations

import re
from pathlib import Path

from babel.messages.pofile import read_po
from fastapi.testclient import TestClient

from tests.support import csrf_of, sign_in
from tocsin import desks
from tocsin.core import notify
from tocsin.core.notify import pages
from tocsin.core.web.shell import CORE_MENU, CORE_NAV

CORE = Path(notify.__file__).resolve().parent.parent
RUSSIAN = CORE / "locales/ru/LC_MESSAGES/messages.po"
FRENCH = CORE / "locales/fr/LC_MESSAGES/messages.po"
TEMPLATE_TEXT = re.compile(r"""_\(\s*(["'])(.*?)\1""")
# In Python, `_(` only as a name of its own (not the end of `__init__(`).
CODE_TEXT = re.compile(r"""(?<!\w)_\(\s*(["'])(.*?)\1""")
MESSAGE = re.compile(
    r'(?:gettext\(request,|tr\(request,|raise (?:NotFound|Conflict)\()\s*"([^"]+)"'
    r'|"((?:Choose|Enter) [^"]+)"'
)
PLACEHOLDER = re.compile(r"\{[^{}]*\}|%\([a-z_]+\)[sd]|%[sd]")
# Names and abbreviations that read the same in Russian as in English.
SAME_IN_RUSSIAN = {"SOS", "CSV", "PDF", "XLSX", "SMS", "Push", "Tocsin", "E-Intervention"}


def entries(po: Path) -> dict[str, str]:
    with po.open("rb") as handle:
        return {str(m.id): str(m.string) for m in read_po(handle) if m.id}


def core_texts() -> set[str]:
    """What the core shows a reader: its templates' and modules' texts, its labels, its menu, and every
    enabled desk's title, menu entries and kinds of notification (the shell's menus and the profile
    page show them all)."""
    loaded = desks.load(None)  # importing the desks declares their kinds of notification
    texts = {
        m.group(2)
        for t in (CORE / "templates").rglob("*.html")
        for m in TEMPLATE_TEXT.finditer(t.read_text())
    }
    for module in CORE.rglob("*.py"):
        source = module.read_text()
        texts |= {m.group(2) for m in CODE_TEXT.finditer(source)}
        texts |= {a or b for a, b in MESSAGE.findall(source)}
    texts |= set(pages.CHANNEL_LABELS.values()) | set(pages.STATUS_LABELS.values())
    texts |= {kind.label for kind in notify.known().values() if not kind.key.startswith("test")}
    texts |= {CORE_MENU} | {link.label for link in CORE_NAV}
    texts |= {desk.title for desk in loaded} | {link.label for desk in loaded for link in desk.nav}
    return texts


def test_every_core_text_has_a_russian_translation_in_the_core_catalog():
    russian = entries(RUSSIAN)
    texts = core_texts()
    assert sorted(t for t in texts if not russian.get(t)) == []
    assert {"Sign in", "There is a problem", "Mine safety", "Interventions", "Dispatch room"} <= texts
    assert len(texts) > 100


def test_every_french_core_entry_has_its_russian():
    russian = entries(RUSSIAN)
    assert sorted(set(entries(FRENCH)) - set(russian)) == []


def test_translations_keep_their_placeholders():
    wrong = [
        f"{po.parent.parent.name}: {msgid!r} -> {msgstr!r}"
        for po in (RUSSIAN, FRENCH)
        for msgid, msgstr in entries(po).items()
        if sorted(PLACEHOLDER.findall(msgid)) != sorted(PLACEHOLDER.findall(msgstr))
    ]
    assert wrong == []


def test_no_russian_translation_is_empty_or_left_in_english():
    russian = entries(RUSSIAN)
    english = set(russian) | set(entries(FRENCH))
    empty = [msgid for msgid, msgstr in russian.items() if not msgstr.strip()]
    untranslated = [
        msgstr
        for msgstr in russian.values()
        if msgstr in english and len(msgstr) > 3 and msgstr not in SAME_IN_RUSSIAN
    ]
    latin_only = [
        msgstr
        for msgstr in russian.values()
        if msgstr not in SAME_IN_RUSSIAN and not re.search("[а-яё]", msgstr, re.IGNORECASE)
    ]
    assert (empty, untranslated, latin_only) == ([], [], [])


def test_the_catalog_declares_the_russian_plural_forms():
    with RUSSIAN.open("rb") as handle:
        catalog = read_po(handle)
    assert str(catalog.locale) == "ru" and catalog.num_plurals == 3


def test_the_sign_in_page_speaks_russian(app):
    with TestClient(app) as client:
        page = client.get("/login?lang=ru").text
    assert '<html lang="ru">' in page
    for label in ("Войти", "Имя пользователя", "Пароль", "Перейти к содержимому", "Главное меню"):
        assert label in page
    assert "User name" not in page and "Password" not in page


def test_a_wrong_sign_in_is_explained_in_russian(app):
    with TestClient(app) as client:
        token = csrf_of(client.get("/login?lang=ru").text)
        page = client.post("/login", data={"username": "", "password": "", "csrf": token}).text
    assert "Есть ошибка" in page and "Введите имя пользователя." in page and "Введите пароль." in page


def test_the_shell_menus_speak_russian(app, database):
    with TestClient(app) as client:
        sign_in(client, database, "olga", ["operator"])
        page = client.get("/?lang=ru").text
    assert "<title>Главная · Tocsin</title>" in page
    for label in (
        "Общее",
        "Уведомления",
        "Ваш профиль",
        "Безопасность горных работ",
        "Диспетчерская",
        "Выйти",
    ):
        assert label in page
