"""Every translation catalog names each message once: with two entries the later silently wins, and
sessions appending to one catalog in parallel make that easy to miss."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import tocsin

CATALOGS = sorted(Path(tocsin.__file__).parent.glob("**/locales/*/LC_MESSAGES/*.po"))


def test_no_catalog_has_a_message_twice():
    assert len(CATALOGS) >= 5
    twice = {}
    for po in CATALOGS:
        lines = po.read_text(encoding="utf-8").splitlines()
        ids = Counter(line for line in lines if line.startswith("msgid "))
        repeated = sorted(line for line, count in ids.items() if count > 1 and line != 'msgid ""')
        if repeated:
            twice[str(po)] = repeated
    assert twice == {}
