"""Files kept by the core for the desks: written outside the database under their SHA-256 (one copy per
content), scanned by clamd before anything keeps them, typed from their bytes, and described by a
``stored_file`` row that names the desk object owning them, so the desk decides who may read them."""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import BigInteger, CheckConstraint, Index, Integer, String, delete, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from tocsin.core.auth.staff import StaffUser
from tocsin.core.config import Settings
from tocsin.core.db import Base, UTCDateTime, affected
from tocsin.core.errors import DomainError
from tocsin.core.files.clamd import Clamd, ScannerUnavailable
from tocsin.core.files.detect import base_type, detect
from tocsin.core.files.names import size_text

log = logging.getLogger(__name__)
CHUNK = 64 * 1024
ORPHAN_GRACE = 3600  # seconds a blob or an incoming file may lie unreferenced (an upload in progress)
BATCH = 500


class StoredFile(Base):
    """One kept file: what the user sent (name, size, type found in the bytes), who, when, what scanned
    it, and the desk object that owns it (``owner_kind`` + ``owner_id``). Its bytes are the blob named
    ``sha256``; two rows with the same content share one blob."""

    __tablename__ = "stored_file"
    __table_args__ = (
        CheckConstraint("size > 0", name="not_empty"),
        CheckConstraint("length(sha256) = 64", name="sha256_is_hex"),
        CheckConstraint("name <> ''", name="named"),
        Index("ix_stored_file_owner", "owner_kind", "owner_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    size: Mapped[int] = mapped_column(BigInteger)
    content_type: Mapped[str] = mapped_column(String(150))
    name: Mapped[str] = mapped_column(String(255))
    owner_kind: Mapped[str] = mapped_column(String(60))
    owner_id: Mapped[str] = mapped_column(String(100))
    uploaded_by: Mapped[str] = mapped_column(String(100))
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    scanned_by: Mapped[str | None] = mapped_column(String(100), nullable=True)  # None: scanning was off


@dataclass(frozen=True)
class FileKind:
    """Files owned by one kind of desk object, declared by the desk (``Desk.file_kinds``).

    ``may_read(db, user, owner_id)`` says whether a signed-in user may download such a file;
    ``owners_present(db, owner_ids)`` which owners still exist (a file whose owner is gone is deleted);
    ``retention(db)`` how long the files are kept (None: as long as their owner).
    """

    name: str
    may_read: Callable[[Session, StaffUser, str], bool]
    owners_present: Callable[[Session, list[str]], set[str]]
    retention: Callable[[Session], timedelta | None]
    max_bytes: int
    accepts: tuple[str, ...] = ()  # media types found in the bytes that are allowed; empty: any


class FileRefused(DomainError):
    """A file was refused. ``text`` is an English template that pages translate; ``values`` fill it
    (``limit`` in bytes, formatted in the reader's language by ``explain``)."""

    text = "{name} was refused"

    def __init__(self, *, name: str, field: str = "file", **values: Any) -> None:
        self.values: dict[str, Any] = {"name": name, **values}
        super().__init__(self.explain(translate=lambda text: text, size=size_text), field=field)

    def explain(self, *, translate: Callable[[str], str], size: Callable[[int], str]) -> str:
        """The reason in the reader's language."""
        values = {k: size(v) if k == "limit" else v for k, v in self.values.items()}
        return translate(self.text).format(**values)


class EmptyFile(FileRefused):
    text = "{name} is empty"


class TooLarge(FileRefused):
    status_code = 413
    text = "{name} is larger than {limit}, the limit"


class WrongType(FileRefused):
    status_code = 415
    text = "{name} is {found}, not one of: {accepted}"


class Infected(FileRefused):
    text = "{name} contains a virus ({signature}) and was not stored"


class ScannerDown(FileRefused):
    status_code = 503
    text = "{name} was not stored: the virus scanner is not answering. Try again in a few minutes."


@dataclass
class Upload:
    """A received file waiting in the files folder's ``incoming/`` until it is kept or discarded."""

    name: str
    size: int
    sha256: str
    path: Path
    fields: dict[str, str] = field(default_factory=dict)  # the form's other fields

    def discard(self) -> None:
        """Delete the waiting copy (nothing happens once the file is kept)."""
        self.path.unlink(missing_ok=True)


@dataclass(frozen=True)
class Screened:
    """An upload that passed the scan and the type check."""

    upload: Upload
    content_type: str
    scanned_by: str | None


class Incoming:
    """A file arriving in pieces: written to ``incoming/``, hashed and counted as it comes, refused as
    soon as it passes ``limit`` so nothing larger ever lands on the disk or in memory."""

    def __init__(self, folder: Path, *, name: str, limit: int) -> None:
        self.name, self.limit, self.size = name, limit, 0
        self.hash = hashlib.sha256()
        handle, path = tempfile.mkstemp(dir=folder, prefix="upload-")
        self.path = Path(path)
        self.out = os.fdopen(handle, "wb")

    def write(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self.size > self.limit:
            self.discard()
            raise TooLarge(name=self.name, limit=self.limit)
        self.hash.update(chunk)
        self.out.write(chunk)

    def finish(self, fields: dict[str, str] | None = None) -> Upload:
        self.out.close()
        return Upload(self.name, self.size, self.hash.hexdigest(), self.path, fields or {})

    def discard(self) -> None:
        self.out.close()
        self.path.unlink(missing_ok=True)


class FileStore:
    """The files folder (``blobs/ab/abcd…`` by SHA-256, ``incoming/`` for uploads under way) and the
    scanner every file passes before it is kept (None only where scanning is turned off: the demo)."""

    def __init__(self, folder: Path, *, max_bytes: int, scanner: Clamd | None) -> None:
        self.folder, self.max_bytes, self.scanner = folder, max_bytes, scanner

    @classmethod
    def from_settings(cls, settings: Settings) -> FileStore:
        scanner = Clamd(settings.clamd, settings.clamd_timeout) if settings.scan_uploads else None
        return cls(settings.files_dir, max_bytes=settings.files_max_bytes, scanner=scanner)

    def limit_of(self, kind: FileKind) -> int:
        """The largest file of ``kind`` (never above the deployment's ceiling)."""
        return min(kind.max_bytes, self.max_bytes)

    def incoming(self, *, name: str, kind: FileKind) -> Incoming:
        """Start receiving a file of ``kind`` named ``name`` (already made safe to show)."""
        return Incoming(self._private("incoming"), name=name, limit=self.limit_of(kind))

    def screen(self, upload: Upload, *, kind: FileKind) -> Screened:
        """Refuse an empty file, one clamd finds a virus in or cannot scan, or one of a type ``kind`` does
        not accept; otherwise say what the file is."""
        if upload.size == 0:
            raise EmptyFile(name=upload.name)
        scanned_by = None
        if self.scanner is not None:
            try:
                verdict = self.scanner.scan(upload.path)
            except ScannerUnavailable as error:
                log.error("file %s refused, not scanned: %s", upload.name, error.detail)
                raise ScannerDown(name=upload.name) from None
            if not verdict.clean:
                log.warning("file %s (sha256 %s) refused: %s", upload.name, upload.sha256, verdict.signature)
                raise Infected(name=upload.name, signature=verdict.signature)
            scanned_by = verdict.scanner
        found = detect(upload.path)
        if kind.accepts and base_type(found) not in kind.accepts:
            raise WrongType(name=upload.name, found=base_type(found), accepted=", ".join(kind.accepts))
        return Screened(upload, found, scanned_by)

    def keep(
        self,
        db: Session,
        *,
        screened: Screened,
        kind: FileKind,
        owner_id: Any,
        uploaded_by: str,
        now: datetime,
    ) -> StoredFile:
        """Move the file under its hash (a copy already there is reused) and add its row."""
        upload = screened.upload
        self._private("blobs")
        blob = self.blob_path(upload.sha256)
        blob.parent.mkdir(mode=0o700, exist_ok=True)
        if blob.exists():
            os.utime(blob)  # fresh again, so the orphan sweep leaves it to this new row
            upload.discard()
        else:
            os.replace(upload.path, blob)
        row = StoredFile(
            sha256=upload.sha256,
            size=upload.size,
            content_type=screened.content_type,
            name=upload.name,
            owner_kind=kind.name,
            owner_id=str(owner_id),
            uploaded_by=uploaded_by[:100],
            uploaded_at=now,
            scanned_by=screened.scanned_by,
        )
        db.add(row)
        db.flush()
        return row

    def blob_path(self, sha256: str) -> Path:
        return self.folder / "blobs" / sha256[:2] / sha256

    def purge(self, db: Session, *, now: datetime, kinds: Mapping[str, FileKind]) -> dict[str, int]:
        """Delete rows past their kind's retention or whose owner is gone, then blobs no row names.
        Files of a kind no enabled desk declares are left alone."""
        expired = orphaned = 0
        for kind in kinds.values():
            kept_for = kind.retention(db)
            if kept_for is not None:
                expired += affected(
                    db.execute(
                        delete(StoredFile).where(
                            StoredFile.owner_kind == kind.name, StoredFile.uploaded_at < now - kept_for
                        )
                    )
                )
            orphaned += self._drop_orphans(db, kind)
        # The rows go first and for good: a blob is deleted only once no committed row can name it.
        db.commit()
        return {"expired": expired, "orphaned": orphaned, "blobs": self._sweep(db)}

    def _drop_orphans(self, db: Session, kind: FileKind) -> int:
        owners = list(
            db.scalars(select(StoredFile.owner_id).where(StoredFile.owner_kind == kind.name).distinct())
        )
        dropped = 0
        for start in range(0, len(owners), BATCH):
            batch = owners[start : start + BATCH]
            gone = set(batch) - kind.owners_present(db, batch)
            if gone:
                query = delete(StoredFile).where(
                    StoredFile.owner_kind == kind.name, StoredFile.owner_id.in_(gone)
                )
                dropped += affected(db.execute(query))
        return dropped

    def _sweep(self, db: Session) -> int:
        """Delete blobs no row names and abandoned incoming files, once older than the grace period."""
        old = time.time() - ORPHAN_GRACE
        deleted = 0
        for path in _old_files(self.folder / "incoming", old):
            path.unlink(missing_ok=True)
            deleted += 1
        blobs = [p for p in _old_files(self.folder / "blobs", old, depth=2) if len(p.name) == 64]
        for start in range(0, len(blobs), BATCH):
            batch = {p.name: p for p in blobs[start : start + BATCH]}
            named = set(db.scalars(select(StoredFile.sha256).where(StoredFile.sha256.in_(list(batch)))))
            for sha256, path in batch.items():
                if sha256 not in named:
                    path.unlink(missing_ok=True)
                    deleted += 1
        return deleted

    def _private(self, name: str) -> Path:
        """A sub-folder of the files folder, both readable by this user only."""
        folder = self.folder / name
        if not folder.is_dir():
            self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            self.folder.chmod(0o700)
            folder.mkdir(mode=0o700, exist_ok=True)
        return folder


def _old_files(folder: Path, before: float, *, depth: int = 1) -> Iterable[Path]:
    """Regular files ``depth`` levels under ``folder`` last changed before ``before`` (epoch seconds)."""
    if not folder.is_dir():
        return []
    pattern = "/".join(["*"] * depth)
    return [p for p in folder.glob(pattern) if p.is_file() and p.stat().st_mtime < before]
