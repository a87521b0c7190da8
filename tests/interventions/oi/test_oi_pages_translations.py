"""Every text of the OI pages has a French translation."""

from __future__ import annotations

import re
from pathlib import Path

from babel.messages.pofile import read_po

from tocsin.interventions.oi import pages as oi_pages

SOURCE = Path(oi_pages.__file__).parent.parent  # the desk
TEXT = re.compile(r"""_\(\s*(["'])(.*?)\1""")
MESSAGE = re.compile(r"""(?:fail\(\s*"[^"]+",|gettext\(request,)\s*"([^"]+)"|, "(Choose [^"]+)"\)""")


def french() -> dict[str, str]:
    with (SOURCE / "locales/fr/LC_MESSAGES/oi.po").open("rb") as handle:
        return {m.id: m.string for m in read_po(handle) if m.id}


def used_texts() -> set[str]:
    texts = {
        m.group(2) for f in (SOURCE / "oi/templates").glob("*.html") for m in TEXT.finditer(f.read_text())
    }
    texts |= {text for pair in oi_pages.FLAGS.values() for text in pair}
    texts |= set(oi_pages.OUTCOMES.values()) | set(oi_pages.STATUSES.values())
    texts |= set(oi_pages.AUDIT_EVENTS.values()) | {
        oi_pages.UNKNOWN_EVENT,
        oi_pages.HELD,
        oi_pages.HELD_STATE,
    }
    code = (SOURCE / "oi/pages.py").read_text()
    texts |= {a or b for a, b in MESSAGE.findall(code)}
    texts |= {m.group(2) for m in TEXT.finditer(code)}  # export headers and titles
    return texts


def test_every_text_has_a_french_translation():
    catalog = french()
    missing = sorted(t for t in used_texts() if not catalog.get(t))
    assert missing == []
    assert len(used_texts()) > 150
