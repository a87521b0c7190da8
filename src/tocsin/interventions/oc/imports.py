"""The OC's import history: every outage file received is scanned, then imported all or nothing, and
listed with what came of it. A file that passed the virus scan and the type check is kept in the core's
file store, owned by its history row; a file refused before that (too large, infected, not text, no
scanner answering) is listed with its reason and not kept."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from tocsin.core.auth import StaffUser
from tocsin.core.files import FileKind, FileRefused, FileStore, StoredFile, Upload
from tocsin.interventions.config import current
from tocsin.interventions.models import OutageImport
from tocsin.interventions.oc import outages

READERS = {"operator", "viewer", "admin"}  # who sees the outage page sees its files
HISTORY_LENGTH = 20
BAD_BODY = "{field}: {reason}"
BAD_LINE = "Line {line}, field {field}: {reason}"
MORE_PROBLEMS = "Line {line}, field {field}: {reason} (and {more} more problems)"


def _may_read(db: Session, user: StaffUser, owner_id: str) -> bool:
    """Staff who may see the outage page may download its files."""
    return (
        bool(READERS & set(user.roles))
        and owner_id.isdigit()
        and db.get(OutageImport, int(owner_id)) is not None
    )


def _present(db: Session, owner_ids: list[str]) -> set[str]:
    ids = [int(i) for i in owner_ids if i.isdigit()]
    return {str(i) for i in db.scalars(select(OutageImport.id).where(OutageImport.id.in_(ids)))}


def _retention(db: Session) -> timedelta | None:
    """As long as the desk keeps line cuts (its configured retention)."""
    try:
        return timedelta(days=current(db).retention_days)
    except LookupError:
        return None


OUTAGE_FILES = FileKind(
    name="interventions.outage_import",
    may_read=_may_read,
    owners_present=_present,
    retention=_retention,
    max_bytes=outages.MAX_FEED_BYTES,
    accepts=("text/csv", "text/plain", "application/json"),
)


@dataclass(frozen=True)
class Outcome:
    """What became of one file: its history row, and the error that refused it (None when imported)."""

    record: OutageImport
    error: FileRefused | outages.FeedError | None = None
    file: StoredFile | None = None


def import_file(
    *, db: Session, files: FileStore, upload: Upload, source: str, now: datetime, actor: str
) -> Outcome:
    """Scan and type-check an outage file, import its cuts (CSV or JSON by ``source``) all or nothing,
    keep the file and list it in the history; a refusal is listed too."""
    try:
        screened = files.screen(upload, kind=OUTAGE_FILES)
    except FileRefused as error:
        upload.discard()
        return Outcome(
            refuse(db=db, error=error, source=source, size=upload.size, now=now, actor=actor), error
        )
    data = upload.path.read_bytes()  # at most the kind's limit (5 MB)
    record = OutageImport(at=now, actor=actor, source=source, file_name=upload.name, size=upload.size)
    failure: outages.FeedError | None = None
    try:
        if source == "csv":
            result = outages.import_cuts_csv(db=db, text=outages.decode_upload(data), now=now, actor=actor)
        else:
            result = outages.add_cuts(db=db, cuts=_json(data), now=now, source=source, actor=actor)
        record.imported, record.duplicates = result.imported, result.duplicates
    except outages.FeedError as error:
        failure = error
        record.refused, record.refused_values = _feed_reason(error)
    db.add(record)
    db.flush()
    stored = files.keep(
        db, screened=screened, kind=OUTAGE_FILES, owner_id=record.id, uploaded_by=actor, now=now
    )
    return Outcome(record, failure, stored)


def refuse(
    *, db: Session, error: FileRefused, source: str, size: int | None, now: datetime, actor: str
) -> OutageImport:
    """List a file refused before it could be read (its size is None when it was cut off at the limit)."""
    record = OutageImport(
        at=now,
        actor=actor,
        source=source,
        file_name=error.values["name"],
        size=None if size is None or size > outages.MAX_FEED_BYTES else size,
        refused=error.text,
        refused_values={k: v for k, v in error.values.items() if k != "name"},
    )
    db.add(record)
    db.flush()
    return record


def history(*, db: Session, limit: int = HISTORY_LENGTH) -> list[tuple[OutageImport, StoredFile | None]]:
    """The latest imports, newest first, each with its kept file (None when refused before keeping)."""
    records = list(
        db.scalars(select(OutageImport).order_by(OutageImport.at.desc(), OutageImport.id.desc()).limit(limit))
    )
    query = select(StoredFile).where(
        StoredFile.owner_kind == OUTAGE_FILES.name, StoredFile.owner_id.in_([str(r.id) for r in records])
    )
    kept = {f.owner_id: f for f in db.scalars(query)}
    return [(record, kept.get(str(record.id))) for record in records]


def _json(data: bytes) -> Any:
    try:
        return json.loads(data)
    except (ValueError, RecursionError):
        raise outages.FeedError([outages.RowProblem(0, "body", outages.NOT_JSON)], field="body") from None


def _feed_reason(error: outages.FeedError) -> tuple[str, dict[str, Any]]:
    """The first bad line as a template and its values, with how many more there were."""
    first = error.problems[0]
    values: dict[str, Any] = {"line": first.line, "field": first.field, "reason": first.reason}
    if first.line == 0:
        return BAD_BODY, values
    if len(error.problems) > 1:
        return MORE_PROBLEMS, {**values, "more": len(error.problems) - 1}
    return BAD_LINE, values
