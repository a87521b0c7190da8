"""A throw-away desk that keeps files for "cases", to test the core's files with no desk's rules in the
way: its cases and who may read each are plain sets the test fills; its upload routes do nothing but
receive, screen and keep.

``POST /api/vault/cases/{case}/files`` takes a multipart form (field ``file``, CSRF field ``csrf``);
``POST /api/vault/cases/{case}/raw?name=…`` a raw body (CSRF header). Both answer the kept file as JSON,
or the core's JSON error (``{"field", "reason"}``) with its status.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from tocsin import desks
from tocsin.core.auth import StaffUser
from tocsin.core.desk import Desk
from tocsin.core.errors import DomainError
from tocsin.core.files import FileKind, StoredFile, Upload
from tocsin.core.files.uploads import receive_body, receive_form
from tocsin.core.web import DB, require_staff, shell_of
from tocsin.core.web.csrf import token_matches

LIMIT = 1000  # bytes: small, so the limit tests post little
OPEN_CASES: set[str] = set()  # cases that exist; a file of any other case has lost its owner
READERS: dict[str, set[str]] = {}  # case → user names allowed to read its files
RETENTION = timedelta(days=30)

CASE_FILES = FileKind(
    name="vault.case",
    may_read=lambda db, user, case: user.username in READERS.get(case, set()),
    owners_present=lambda db, cases: {case for case in cases if case in OPEN_CASES},
    retention=lambda db: RETENTION,
    max_bytes=LIMIT,
)

router = APIRouter()


def _keep(request: Request, db: Session, upload: Upload, case: str, user: StaffUser) -> dict[str, Any]:
    shell = shell_of(request)
    try:
        screened = shell.files.screen(upload, kind=CASE_FILES)
        stored: StoredFile = shell.files.keep(
            db,
            screened=screened,
            kind=CASE_FILES,
            owner_id=case,
            uploaded_by=user.username,
            now=shell.clock(),
        )
    finally:
        upload.discard()
    return {"id": stored.id, "name": stored.name, "size": stored.size, "content_type": stored.content_type}


@router.post("/api/vault/cases/{case}/files")
async def upload_form(
    request: Request, case: str, user: StaffUser = Depends(require_staff()), db: Session = DB
) -> dict[str, Any]:
    form = await receive_form(request, kind=CASE_FILES)
    if form.upload is None:
        raise DomainError("choose a file", field="file")
    return await run_in_threadpool(_keep, request, db, form.upload, case, user)


@router.post("/api/vault/cases/{case}/raw")
async def upload_raw(
    request: Request, case: str, name: str, user: StaffUser = Depends(require_staff()), db: Session = DB
) -> dict[str, Any]:
    if not token_matches(request, request.headers.get("x-csrf-token")):
        raise DomainError("the form has expired; reload the page and try again", field="csrf")
    upload = await receive_body(request, kind=CASE_FILES, name=name)
    return await run_in_threadpool(_keep, request, db, upload, case, user)


def vault_desk() -> Desk:
    return Desk(name="vault", title="Vault", routers=[router], file_kinds=[CASE_FILES])


@contextmanager
def vault_client(settings, database, clock) -> Iterator[TestClient]:
    """A test client of an app whose only desk is the vault (cases and readers emptied afterwards)."""
    from tocsin.app import create_app

    desks.register(vault_desk())
    try:
        settings.desks = ["vault"]
        with TestClient(create_app(settings, database=database, clock=clock)) as client:
            yield client
    finally:
        desks.unregister("vault")
        OPEN_CASES.clear()
        READERS.clear()


def post_file(client: TestClient, token: str, name: str, content: bytes, *, case: str = "case-1") -> Any:
    """Upload ``content`` as ``name`` to a case through the multipart form."""
    files = {"file": (name, content, "application/octet-stream")}
    return client.post(f"/api/vault/cases/{case}/files", data={"csrf": token}, files=files)
