"""JSON API of the OC's outage feed, for scripts run by staff and for the OC's own systems.

``POST /api/interventions/outages`` takes a JSON list of cuts (the CSV's fields). It uses the staff
session (role operator) and the session's CSRF token in the ``X-CSRF-Token`` header, like the pages:
the feed comes from the OC's own systems, not from a partner, so no partner OAuth2 scope applies.
An error answers ``{"field": "line 3: cut_at", "reason": "...", "problems": [...]}``, naming every
bad item (numbered from 1) and field. The body is read as it arrives (5 MB at most, else 413), scanned
by clamd (a virus: 400; no scanner answering: 503) and kept as a file of the import history.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from tocsin.core.auth import StaffUser
from tocsin.core.errors import DomainError
from tocsin.core.files import FileRefused, TooLarge
from tocsin.core.files.uploads import receive_body
from tocsin.core.web import DB, require_staff, shell_of
from tocsin.core.web.csrf import token_matches
from tocsin.interventions.oc import imports, outages

router = APIRouter(prefix="/api/interventions", tags=["interventions OC"])


@router.post("/outages")
async def post_outages(
    request: Request,
    user: StaffUser = Depends(require_staff("operator")),
    db: Session = DB,
) -> JSONResponse:
    """Import line cuts, all or nothing; answers how many were stored and how many were duplicates.
    The body is kept as a file of the import history once clamd has found it clean."""
    if not token_matches(request, request.headers.get("x-csrf-token")):  # never read the body for it
        raise DomainError("the form has expired; reload the page and try again", field="csrf")
    now = shell_of(request).clock()
    name = f"outages-{now:%Y%m%dT%H%M%SZ}.json"
    try:
        upload = await receive_body(request, kind=imports.OUTAGE_FILES, name=name)
    except TooLarge as error:
        await run_in_threadpool(
            imports.refuse, db=db, error=error, source="api", size=None, now=now, actor=user.username
        )
        return _error(413, "body", error.reason)
    outcome = await run_in_threadpool(
        imports.import_file,
        db=db,
        files=shell_of(request).files,
        upload=upload,
        source="api",
        now=now,
        actor=user.username,
    )
    if isinstance(outcome.error, FileRefused):
        return _error(outcome.error.status_code, "body", outcome.error.reason)
    if isinstance(outcome.error, outages.FeedError):
        return _error(400, outcome.error.field or "body", outcome.error.reason, outcome.error.problems)
    return JSONResponse({"imported": outcome.record.imported, "duplicates": outcome.record.duplicates})


def _error(
    status: int, field: str, reason: str, problems: list[outages.RowProblem] | None = None
) -> JSONResponse:
    listed: list[dict[str, Any]] = [
        {"line": p.line, "field": p.field, "reason": p.reason} for p in problems or []
    ]
    return JSONResponse({"field": field, "reason": reason, "problems": listed}, status_code=status)
