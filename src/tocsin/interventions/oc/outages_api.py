"""JSON API of the OC's outage feed, for scripts run by staff and for the OC's own systems.

``POST /api/interventions/outages`` takes a JSON list of cuts (the CSV's fields). It uses the staff
session (role operator) and the session's CSRF token in the ``X-CSRF-Token`` header, like the pages:
the feed comes from the OC's own systems, not from a partner, so no partner OAuth2 scope applies.
An error answers ``{"field": "line 3: cut_at", "reason": "...", "problems": [...]}``, naming every
bad item (numbered from 1) and field.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from tocsin.core.auth import StaffUser
from tocsin.core.web import DB, check_csrf, require_staff, shell_of
from tocsin.interventions.oc import outages

router = APIRouter(prefix="/api/interventions", tags=["interventions OC"])


@router.post("/outages")
async def post_outages(
    request: Request,
    user: StaffUser = Depends(require_staff("operator")),
    _csrf: None = Depends(check_csrf),
    db: Session = DB,
) -> JSONResponse:
    """Import line cuts, all or nothing; answers how many were stored and how many were duplicates."""
    body = await request.body()
    if len(body) > outages.MAX_FEED_BYTES:
        return _error(413, "body", outages.TOO_LARGE)
    try:
        cuts = json.loads(body)
    except (ValueError, RecursionError):
        return _error(400, "body", "must be a JSON list of cuts")
    now = shell_of(request).clock()
    try:
        result = await run_in_threadpool(outages.add_cuts, db=db, cuts=cuts, now=now, actor=user.username)
    except outages.FeedError as error:
        return _error(400, error.field or "body", error.reason, error.problems)
    return JSONResponse({"imported": result.imported, "duplicates": result.duplicates})


def _error(
    status: int, field: str, reason: str, problems: list[outages.RowProblem] | None = None
) -> JSONResponse:
    listed: list[dict[str, Any]] = [
        {"line": p.line, "field": p.field, "reason": p.reason} for p in problems or []
    ]
    return JSONResponse({"field": field, "reason": reason, "problems": listed}, status_code=status)
