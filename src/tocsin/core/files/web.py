"""Downloading a kept file: ``GET /files/{id}`` for a signed-in user the owning desk allows. Anyone else
gets the same 404 as for a file that does not exist, so ids reveal nothing."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse

from tocsin.core.auth.staff import StaffUser
from tocsin.core.errors import NotFound
from tocsin.core.files.names import content_disposition
from tocsin.core.files.store import StoredFile
from tocsin.core.web.inputs import names_a_row
from tocsin.core.web.sessions import require_staff
from tocsin.core.web.shell import Db, shell_of

log = logging.getLogger(__name__)
router = APIRouter(include_in_schema=False)
SIGNED_IN = require_staff()


def file_url(stored: StoredFile) -> str:
    """Where a page links to download ``stored``."""
    return f"/files/{stored.id}"


@router.get("/files/{file_id}")
def download(request: Request, file_id: int, db: Db, user: StaffUser = Depends(SIGNED_IN)) -> FileResponse:
    """The file as an attachment of the type found in its bytes, if the owning desk lets ``user`` read it."""
    shell = shell_of(request)
    stored = db.get(StoredFile, file_id) if names_a_row(file_id) else None
    kind = shell.file_kinds.get(stored.owner_kind) if stored else None
    if stored is None or kind is None or not kind.may_read(db, user, stored.owner_id):
        raise NotFound("no such file", field="file_id")
    path = shell.files.blob_path(stored.sha256)
    if not path.is_file():
        log.error("file %s (sha256 %s) has a row but no blob", stored.id, stored.sha256)
        raise NotFound("no such file", field="file_id")
    return FileResponse(
        path,
        media_type=stored.content_type,
        headers={
            "Content-Disposition": content_disposition(stored.name),
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "default-src 'none'; sandbox",
            "Cache-Control": "private, no-store",
        },
    )
