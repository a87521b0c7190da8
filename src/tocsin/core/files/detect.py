"""What a file is, from its bytes: never from its name or the type the browser claims.

libmagic (Debian's ``libmagic1``, the engine of ``file(1)``, through python-magic) names the format from
its magic bytes: PDF, PNG, JPEG, GIF, WebP, ZIP and hundreds more, kept up to date by Debian. Two
answers are then refined here, because libmagic guesses them from the order of a zip's entries or
from a few bytes of text: a zip is opened to tell OOXML (``[Content_Types].xml``) and OpenDocument
(``mimetype``) from a plain archive, and text is decoded to tell UTF-8 CSV, JSON and plain text apart
(libmagic calls a CSV with a ``<script>`` cell HTML, and text with a control character data).
"""

from __future__ import annotations

import csv
import io
import re
import threading
import zipfile
from pathlib import Path

import magic

OCTET_STREAM = "application/octet-stream"
ZIP = "application/zip"
TEXT_SAMPLE = 64 * 1024  # bytes of text looked at to tell CSV from plain text
PART_LIMIT = 256 * 1024  # [Content_Types].xml and mimetype read at most this much (zip bombs)
OOXML = {
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml": (
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    ),
    "application/vnd.ms-word.document.macroEnabled.main+xml": (
        "application/vnd.ms-word.document.macroEnabled.12"
    ),
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml": (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    ),
    "application/vnd.ms-excel.sheet.macroEnabled.main+xml": "application/vnd.ms-excel.sheet.macroEnabled.12",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation.main+xml": (
        "application/vnd.openxmlformats-officedocument.presentationml.presentation"
    ),
    "application/vnd.ms-powerpoint.presentation.macroEnabled.main+xml": (
        "application/vnd.ms-powerpoint.presentation.macroEnabled.12"
    ),
}
ODF = re.compile(r"^application/vnd\.oasis\.opendocument\.[a-z-]+(\.template)?$")
TEXT_LIKE = {"text/plain", "text/csv", "application/csv", "application/json"}

_libmagic = magic.Magic(mime=True)
_libmagic_lock = threading.Lock()  # a libmagic handle is not safe across threads


def detect(path: Path) -> str:
    """The media type of the file at ``path``, from its content (``; charset=utf-8`` on checked text)."""
    with _libmagic_lock:
        found = _libmagic.from_file(str(path))
    with path.open("rb") as handle:
        head = handle.read(TEXT_SAMPLE)
    if head.startswith(b"PK\x03\x04"):
        return _zip_kind(path)
    if found in TEXT_LIKE or found.startswith("text/") or found == OCTET_STREAM:
        return _text_kind(head, found, whole=path.stat().st_size <= TEXT_SAMPLE)
    return found or OCTET_STREAM


def base_type(content_type: str) -> str:
    """``text/csv`` for ``text/csv; charset=utf-8``."""
    return content_type.split(";", 1)[0].strip().lower()


def _zip_kind(path: Path) -> str:
    """OOXML by the main part its [Content_Types].xml declares, OpenDocument by its mimetype entry,
    else a plain zip (or unknown bytes when the archive is broken)."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
            if "[Content_Types].xml" in names:
                with archive.open("[Content_Types].xml") as part:
                    declared = part.read(PART_LIMIT).decode("utf-8", "replace")
                for main, kind in OOXML.items():
                    if f'ContentType="{main}"' in declared:
                        return kind
            if "mimetype" in names:
                with archive.open("mimetype") as part:
                    kind = part.read(200).decode("ascii", "replace").strip()
                if ODF.match(kind):
                    return kind
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, NotImplementedError, ValueError):
        return OCTET_STREAM
    return ZIP


def _text_kind(head: bytes, found: str, *, whole: bool) -> str:
    """UTF-8 text (a BOM allowed, no NUL) is JSON as libmagic saw it, CSV when its lines split evenly,
    else what libmagic named it (text/html …) or plain text; other bytes keep libmagic's answer."""
    sample = head if whole else head[: head.rfind(b"\n") + 1] or head
    try:
        text = sample.decode("utf-8-sig")
    except UnicodeDecodeError:
        return found
    if "\0" in text:
        return found
    if found == "application/json":
        return "application/json; charset=utf-8"
    if _looks_like_csv(text):
        return "text/csv; charset=utf-8"
    return ("text/plain" if found in TEXT_LIKE or found == OCTET_STREAM else found) + "; charset=utf-8"


def _looks_like_csv(text: str) -> bool:
    """Every sampled line splits into the same number (2 or more) of fields on one delimiter."""
    lines = [line for line in text.splitlines() if line.strip()][:50]
    if not lines:
        return False
    for delimiter in (",", ";", "\t"):
        if delimiter not in lines[0]:
            continue
        try:
            widths = {len(row) for row in csv.reader(io.StringIO("\n".join(lines)), delimiter=delimiter)}
        except csv.Error:
            continue
        if len(widths) == 1 and widths.pop() >= 2:
            return True
    return False
