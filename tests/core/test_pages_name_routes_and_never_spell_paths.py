"""Templates and redirects name the routes they lead to (``url(...)``, ``path_to(...)``); a path spelled
by hand breaks silently the day a route moves. Static files are files, not routes: they may be spelled."""

from __future__ import annotations

import re
from pathlib import Path

SOURCE = Path(__file__).resolve().parents[2] / "src" / "tocsin"
SPELLED_IN_TEMPLATE = re.compile(r"""(?:href|action|src)=["']/(?!static/)""")
SPELLED_IN_CODE = re.compile(r"""RedirectResponse\(\s*f?["']/""")


def test_no_template_spells_a_route_path():
    found = [
        f"{path.relative_to(SOURCE)}:{number}"
        for path in sorted(SOURCE.glob("**/templates/**/*.html"))
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if SPELLED_IN_TEMPLATE.search(line)
    ]
    assert found == []


def test_no_redirect_spells_a_route_path():
    found = [
        f"{path.relative_to(SOURCE)}:{number}"
        for path in sorted(SOURCE.glob("**/*.py"))
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if SPELLED_IN_CODE.search(line)
    ]
    assert found == []
