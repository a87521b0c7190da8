"""Files in the core: uploads streamed to disk under a size limit, scanned by clamd, typed from their
bytes, kept once per content under their SHA-256, read only by whom the owning desk allows, and purged
when their retention ends or their owner is gone.

Desks declare a ``FileKind`` per owning object in their ``Desk``; pages receive uploads with
``tocsin.core.files.uploads`` and link downloads to ``/files/{id}`` (``tocsin.core.files.web``).
"""

from tocsin.core.files.clamd import Clamd, ScannerUnavailable, Verdict
from tocsin.core.files.detect import base_type, detect
from tocsin.core.files.names import content_disposition, display_name, size_text
from tocsin.core.files.store import (
    EmptyFile,
    FileKind,
    FileRefused,
    FileStore,
    Infected,
    ScannerDown,
    Screened,
    StoredFile,
    TooLarge,
    Upload,
    WrongType,
)

__all__ = [
    "Clamd",
    "EmptyFile",
    "FileKind",
    "FileRefused",
    "FileStore",
    "Infected",
    "ScannerDown",
    "ScannerUnavailable",
    "Screened",
    "StoredFile",
    "TooLarge",
    "Upload",
    "Verdict",
    "WrongType",
    "base_type",
    "content_disposition",
    "detect",
    "display_name",
    "size_text",
]
