"""What a desk hands the core: its routers, templates, translations and menu entries."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import APIRouter


@dataclass
class NavLink:
    label: str
    url: str
    roles: tuple[str, ...] = ()


@dataclass
class Desk:
    """One desk as the web shell sees it."""

    name: str
    title: str
    routers: list[APIRouter] = field(default_factory=list)
    templates: Path | None = None
    locales: Path | None = None
    static: Path | None = None
    nav: list[NavLink] = field(default_factory=list)
    languages: tuple[str, ...] = ("en",)
    on_start: Callable[[Any], None] | None = None
