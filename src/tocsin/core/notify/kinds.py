"""Notification kinds and their messages: a desk declares a kind once (``declare``), writes its templates
as files, and ``render`` fills them in the recipient's language.

Files, per kind and language, under the desk's (or the core's) template folder:
``notify/<name>/subject.<lang>.txt``, ``body.<lang>.txt`` and, optionally, ``body.<lang>.html`` (the
only one autoescaped). A language without files falls back to English. SMS and push use the text body,
trimmed to the channel's limits.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader, StrictUndefined, TemplateNotFound, select_autoescape
from sqlalchemy.orm import Session

from tocsin.core.notify.models import CHANNELS, EMAIL

SUBJECT_LIMIT = 200
SMS_LIMIT = 306  # two concatenated GSM-7 segments; a longer alert costs more than it tells
GSM_PLAIN = str.maketrans({"\u00a0": " ", "\u202f": " ", "\u2019": "'"})  # their GSM-7 look-alikes
PUSH_TITLE_LIMIT = 100
PUSH_BODY_LIMIT = 500  # far below the 4 kB a push service takes once encrypted
CORE_TEMPLATES = Path(__file__).resolve().parent.parent / "templates"


@dataclass(frozen=True)
class Kind:
    """One kind of notification: ``key`` is ``<desk>.<name>``; ``label`` is English, shown translated on
    the account page to users holding one of ``roles`` (admin sees all)."""

    key: str
    label: str
    templates: Path
    default_channels: tuple[str, ...] = (EMAIL,)
    roles: tuple[str, ...] = ()
    language: str = "en"  # for recipients who chose none
    timezone: str = "UTC"
    zone_of: Callable[[Session], str | None] | None = None  # the desk's configured zone, if it keeps one

    @property
    def name(self) -> str:
        return self.key.split(".", 1)[1]

    def zone(self, db: Session) -> ZoneInfo:
        return ZoneInfo((self.zone_of(db) if self.zone_of else None) or self.timezone)


_kinds: dict[str, Kind] = {}


def declare(
    key: str,
    *,
    label: str,
    templates: Path,
    default_channels: tuple[str, ...] = (EMAIL,),
    roles: tuple[str, ...] = (),
    language: str = "en",
    timezone: str = "UTC",
    zone_of: Callable[[Session], str | None] | None = None,
) -> Kind:
    """Declare a kind (a desk lists it in its ``Desk.notifications`` too); checks its files exist."""
    if not re.fullmatch(r"[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*", key) or len(key) > 40:
        raise ValueError(f"notification kind {key!r}: write <desk>.<name>, 40 characters at most")
    unknown = set(default_channels) - set(CHANNELS)
    if unknown:
        raise ValueError(f"notification kind {key}: unknown channel(s) {sorted(unknown)}")
    kind = Kind(key, label, templates, default_channels, roles, language, timezone, zone_of)
    for part in ("subject", "body"):
        if not (templates / "notify" / kind.name / f"{part}.en.txt").is_file():
            raise ValueError(f"notification kind {key}: notify/{kind.name}/{part}.en.txt is missing")
    _kinds[key] = kind
    return kind


def get(key: str) -> Kind:
    """The declared kind ``key``; a kind nobody declared is a programming error."""
    try:
        return _kinds[key]
    except KeyError:
        raise LookupError(f"notification kind {key!r} is not declared") from None


@dataclass(frozen=True)
class Rendered:
    """A notification's words in one language: a one-line subject, a text body, maybe an HTML body."""

    subject: str
    text: str
    html: str | None
    language: str

    def sms(self) -> str:
        """The text body within an SMS's length, in GSM-7 characters where it can (no-break spaces, the
        typographic apostrophe and "…" would force UCS-2 and halve what one SMS holds)."""
        return _trim(self.text.translate(GSM_PLAIN), SMS_LIMIT, "...")

    def push(self, link: str) -> dict[str, Any]:
        return {
            "title": _trim(self.subject, PUSH_TITLE_LIMIT, "…"),
            "body": _trim(self.text, PUSH_BODY_LIMIT, "…"),
            "url": link,
        }


@lru_cache(maxsize=64)
def _environment(folder: Path) -> Environment:
    return Environment(
        loader=FileSystemLoader(str(folder)),
        autoescape=select_autoescape(["html"], default_for_string=False, default=False),
        undefined=StrictUndefined,  # a missing value is a bug to see, not a blank in someone's mail
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
    )


def render(kind: Kind, *, language: str, context: Mapping[str, Any], zone: ZoneInfo) -> Rendered:
    """Fill the kind's templates in ``language`` (English when that language has no files)."""
    from tocsin.core.web.formatting import Formatter  # here: the web package imports this one

    environment = _environment(kind.templates)
    folder = f"notify/{kind.name}"
    try:
        environment.get_template(f"{folder}/subject.{language}.txt")
    except TemplateNotFound:
        language = "en"
    values = {**context, "fmt": Formatter(language, zone), "lang": language}
    subject = environment.get_template(f"{folder}/subject.{language}.txt").render(values)
    text = environment.get_template(f"{folder}/body.{language}.txt").render(values)
    try:
        html: str | None = environment.get_template(f"{folder}/body.{language}.html").render(values)
    except TemplateNotFound:
        html = None
    return Rendered(" ".join(subject.split())[:SUBJECT_LIMIT], text.strip() + "\n", html, language)


def _trim(text: str, limit: int, ellipsis: str) -> str:
    text = text.strip()
    if len(text) <= limit:
        return text
    return text[: limit - len(ellipsis)].rstrip() + ellipsis


def known() -> Mapping[str, Kind]:
    """Every declared kind, by key."""
    return dict(_kinds)
