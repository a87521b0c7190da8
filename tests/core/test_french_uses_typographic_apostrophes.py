"""French translations use the typographic apostrophe (l’OI, n’est) and a no-break space before : ; ? !,
as French readers expect."""

from __future__ import annotations

import re
from pathlib import Path

from babel.messages.pofile import read_po

SOURCE = Path(__file__).resolve().parents[2] / "src" / "tocsin"


def test_no_french_translation_uses_a_straight_apostrophe():
    found = []
    for po in sorted(SOURCE.glob("**/locales/fr/LC_MESSAGES/*.po")):
        with po.open("rb") as handle:
            found += [f"{po.name}: {m.string}" for m in read_po(handle) if m.id and "'" in str(m.string)]
    assert found == []


def test_no_french_template_uses_a_straight_apostrophe_in_its_text():
    found = []
    for template in sorted(SOURCE.glob("**/templates/**/*.fr.*")):
        text = re.sub(r"{[{%#].*?[}%#]}", "", template.read_text(encoding="utf-8"), flags=re.S)
        found += [f"{template.name}: {line}" for line in text.splitlines() if re.search(r"\w'\w", line)]
    assert found == []


def test_french_punctuation_keeps_its_no_break_space():
    """« Heures : » never leaves its colon at the start of a line: the space before : ; ? ! is a
    no-break one."""
    found = []
    for po in sorted(SOURCE.glob("**/locales/fr/LC_MESSAGES/*.po")):
        with po.open("rb") as handle:
            found += [
                f"{po.name}: {m.string}" for m in read_po(handle) if m.id and re.search(r" [:;?!]", m.string)
            ]
    assert found == []
