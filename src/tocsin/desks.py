"""The desks of this product: the one place a desk is named. Adding a desk is one line in ``KNOWN``;
its ``desk`` object says everything else (see ``tocsin.core.desk.Desk``)."""

from __future__ import annotations

from importlib import import_module

from tocsin.core.desk import Desk

KNOWN = {
    "interventions": "tocsin.interventions.desk",
    "minesafe": "tocsin.minesafe.desk",
    "appeals": "tocsin.appeals.desk",
}
_added: dict[str, Desk] = {}  # desks registered at run time (a test's throw-away desk)


def names() -> list[str]:
    """Every desk this product knows, in a stable order."""
    return [*KNOWN, *_added]


def get(name: str) -> Desk:
    if name in _added:
        return _added[name]
    if name not in KNOWN:
        raise ValueError(f"TOCSIN_DESKS: unknown desk {name!r}; known: {names()}")
    desk: Desk = import_module(KNOWN[name]).desk
    return desk


def load(wanted: list[str] | None) -> list[Desk]:
    """The enabled desks (``None``: every known desk); an unknown name is a configuration error."""
    unknown = [n for n in wanted or [] if n not in names()]
    if unknown:
        raise ValueError(f"TOCSIN_DESKS: unknown desk(s) {unknown}; known: {names()}")
    return [get(name) for name in (names() if wanted is None else wanted)]


def register(desk: Desk) -> None:
    """Add a desk at run time (tests); it then counts everywhere a known desk does."""
    _added[desk.name] = desk


def unregister(name: str) -> None:
    _added.pop(name, None)
