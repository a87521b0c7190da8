"""File names as users gave them, made safe to show and to send back: the name is only ever shown and
put in ``Content-Disposition``; files live under their content hash, so no name reaches the disk."""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import quote

from babel.units import format_unit

LONGEST_NAME = 200
UNNAMED = "unnamed"
RESERVED = re.compile(r'[<>:"/\\|?*]')  # not allowed in a name on Windows, or a path separator
ASCII_UNSAFE = re.compile(r"[^A-Za-z0-9._ ()+-]")
ATTR_CHARS = "!#$&+-.^_`|~"  # RFC 5987 attr-char besides letters and digits, sent as they are
UNITS = ((10**9, "digital-gigabyte"), (10**6, "digital-megabyte"), (10**3, "digital-kilobyte"))


def display_name(raw: str) -> str:
    """The last part of a path, without control or bidirectional-override characters, reserved
    characters replaced by ``_``, at most 200 characters (the extension kept), never empty."""
    last = re.split(r"[/\\]", raw)[-1]
    kept = "".join(
        c
        for c in unicodedata.normalize("NFC", last)
        if unicodedata.category(c) not in {"Cc", "Cf", "Zl", "Zp"}
    )
    name = RESERVED.sub("_", kept).strip().strip(".")
    if len(name) > LONGEST_NAME:
        stem, dot, extension = name.rpartition(".")
        keep = extension if dot and stem and len(extension) <= 10 else ""
        name = name[: LONGEST_NAME - len(keep) - 1 if keep else LONGEST_NAME] + (f".{keep}" if keep else "")
    return name or UNNAMED


def content_disposition(name: str) -> str:
    """``attachment`` with an ASCII ``filename`` for old clients and RFC 6266's ``filename*`` (UTF-8)."""
    plain = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    fallback = ASCII_UNSAFE.sub("_", plain).strip()
    stem, dot, extension = fallback.rpartition(".")
    if not fallback.strip(" ._-") or (dot and not stem.strip(" ._-")):  # nothing left of a non-Latin name
        fallback = f"{UNNAMED}.{extension}" if dot and extension.strip(" _-") else UNNAMED
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe=ATTR_CHARS)}"


def size_text(value: int, lang: str = "en") -> str:
    """A byte count in the reader's words: ``5 MB``, ``5 Mo``, ``812 bytes`` (decimal units)."""
    for step, unit in UNITS:
        if value >= step:
            return format_unit(round(value / step, 1), unit, locale=lang, length="short")
    return format_unit(value, "digital-byte", locale=lang, length="long")  # CLDR's short English is "byte"
