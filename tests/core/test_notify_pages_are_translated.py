"""Every text of the notification and profile pages, and of the notification kinds, has a French
translation."""

from __future__ import annotations

import re
from pathlib import Path

from babel.messages.pofile import read_po

from tocsin import desks
from tocsin.core import notify
from tocsin.core.notify import pages
from tocsin.core.web.shell import CORE_NAV

CORE = Path(notify.__file__).resolve().parent.parent
TEXT = re.compile(r"""_\(\s*(["'])(.*?)\1""")
MESSAGE = re.compile(
    r'(?:gettext\(request,|tr\(request,|raise (?:NotFound|Conflict)\()\s*"([^"]+)"'
    r'|"((?:Choose|Enter) [^"]+)"'
)
TEMPLATES = ("account.html", "notifications.html", "notification_resend.html", "macros.html", "layout.html")


def french() -> dict[str, str]:
    catalogs = [CORE / "locales/fr/LC_MESSAGES/messages.po"]
    catalogs += [
        po for d in desks.load(None) if d.locales for po in (d.locales / "fr/LC_MESSAGES").glob("*.po")
    ]
    found: dict[str, str] = {}
    for po in catalogs:
        with po.open("rb") as handle:
            found |= {m.id: m.string for m in read_po(handle) if m.id}
    return found


def used_texts() -> set[str]:
    texts = {m.group(2) for name in TEMPLATES for m in TEXT.finditer((CORE / "templates" / name).read_text())}
    for module in ("notify/pages.py", "notify/service.py"):
        texts |= {a or b for a, b in MESSAGE.findall((CORE / module).read_text())}
    texts |= set(pages.CHANNEL_LABELS.values()) | set(pages.STATUS_LABELS.values())
    texts |= {kind.label for kind in notify.known().values() if not kind.key.startswith("test")}
    texts |= {link.label for link in CORE_NAV}
    return texts


def test_every_text_has_a_french_translation():
    catalog = french()
    missing = sorted(t for t in used_texts() if not catalog.get(t))
    assert missing == []
    assert len(used_texts()) > 70
