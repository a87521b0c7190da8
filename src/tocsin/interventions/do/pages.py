"""DO pages: the technician's Start/End page (works offline), its JSON endpoints, and the KO list.

The technician page queues each action in the browser with the device's own time and posts it to
``/api/interventions/do/start`` or ``/end`` when the network is back; the client makes the reference,
so a re-sent queue entry never creates a second declaration.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from tocsin.core import dates, orgs
from tocsin.core.auth import StaffUser
from tocsin.core.errors import DomainError
from tocsin.core.web import DB, check_csrf, formatter_of, path_to, require_staff, shell_of
from tocsin.interventions.config import current
from tocsin.interventions.do import service as declarations
from tocsin.interventions.models import PM, Declaration

STATIC = Path(__file__).parent / "static"
MAX_LINES = 1000  # nature lines a correction may carry, as in declarations.checked_natures
TECHNICIAN = require_staff("technician")
TEAM_ROLES = ("operator", "technician")  # supervisors and technicians see their teams' declarations
REVIEWER = require_staff(*TEAM_ROLES)
NATURES = (
    (1, "RACC"),
    (2, "SAV"),
    (3, "AUCUNE ACTION"),
    (4, "NON FOURNIE"),
)
SCRIPT_TEXTS = (
    "Queued on this phone",
    "Sent, waiting for the OI",
    "Acknowledged by the OI",
    "Rejected by the OI",
    "Delivery failed",
    "Refused",
    "Start",
    "End",
    "Offline: your declarations stay on this phone and leave when the network is back.",
    "Online",
    "Sign in again to send your queued declarations.",
    "Started at {pm}, {time}",
    "Ended at {pm}, {time}",
    "Enter the PM.",
    "This PM is not in our referential.",
    "Line {n}",
)

router = APIRouter()


@router.get("/interventions/do/technician", response_class=HTMLResponse, include_in_schema=False)
def technician_page(request: Request, user: StaffUser = Depends(TECHNICIAN), db: Session = DB) -> Response:
    """The technician's page: choose the PM, Start, natures, End."""
    shell = shell_of(request)
    pms = db.scalars(select(PM).where(PM.oi_code.is_not(None)).order_by(PM.ref))
    texts = {text: shell.gettext(request, text) for text in SCRIPT_TEXTS}
    code = _self_code(db)
    return shell.render(request, "do/technician.html", pms=list(pms), natures=NATURES, texts=texts, code=code)


@router.get("/interventions/do/sw.js", include_in_schema=False)
def service_worker() -> Response:
    """Served from here (not /static) so its scope covers the technician page."""
    script = (STATIC / "sw.js").read_text(encoding="utf-8")
    return Response(script, media_type="text/javascript", headers={"Cache-Control": "no-cache"})


@router.post("/api/interventions/do/start", dependencies=[Depends(TECHNICIAN), Depends(check_csrf)])
async def start_json(request: Request, user: StaffUser = Depends(TECHNICIAN)) -> Response:
    """Start (M1) from the technician's queue; answers the existing declaration for a known ref_do."""
    data = await _json(request)

    def rule(db: Session, now: datetime) -> Declaration:
        team = orgs.home_org(db, user, "technician")
        return declarations.start(
            db=db,
            pm=str(data.get("pm") or ""),
            natures=data.get("natures"),
            started_at=data.get("started_at"),
            technician=user.username,
            ref_do=data.get("ref_do"),
            team=team.id if team else None,
            now=now,
        )

    return await run_in_threadpool(_act, request, rule)


@router.post("/api/interventions/do/end", dependencies=[Depends(TECHNICIAN), Depends(check_csrf)])
async def end_json(request: Request, user: StaffUser = Depends(TECHNICIAN)) -> Response:
    """End (M3) from the technician's queue; the same end sent twice changes nothing."""
    data = await _json(request)

    def rule(db: Session, now: datetime) -> Declaration:
        ref_do = str(data.get("ref_do") or "")
        declarations.visible(db, ref_do, scope=orgs.scope_of(db, user, TEAM_ROLES))
        return declarations.end(
            db=db, ref_do=ref_do, ended_at=data.get("ended_at"), natures=data.get("natures"), now=now
        )

    return await run_in_threadpool(_act, request, rule)


@router.get("/api/interventions/do/declarations/{ref_do}")
def declaration_json(ref_do: str, db: Session = DB, user: StaffUser = Depends(TECHNICIAN)) -> Response:
    """Where a declaration stands (the page polls it to show the OI's acknowledgement)."""
    try:
        declaration = declarations.visible(db, ref_do, scope=orgs.scope_of(db, user, TEAM_ROLES))
    except DomainError as error:
        return JSONResponse({"field": error.field, "reason": error.reason}, status_code=error.status_code)
    return JSONResponse(_view(declaration))


@router.get("/interventions/do/rejected", response_class=HTMLResponse, include_in_schema=False)
def rejected_page(request: Request, user: StaffUser = Depends(REVIEWER), db: Session = DB) -> Response:
    """Declarations of the reader's teams that the OI rejected, to correct and re-send within the window;
    closed ones below."""
    return _rejected(request, db, user)


@router.post(
    "/interventions/do/rejected/{ref_do}",
    include_in_schema=False,
    dependencies=[Depends(REVIEWER), Depends(check_csrf)],
)
async def correct(request: Request, ref_do: str, user: StaffUser = Depends(REVIEWER)) -> Response:
    """Correct a rejected declaration and re-send it to the OI."""
    form = await request.form()
    return await run_in_threadpool(_correct, request, ref_do, user, form)


def _correct(request: Request, ref_do: str, user: StaffUser, form: Any) -> Response:
    shell = shell_of(request)
    try:
        with shell.database.session() as db:
            declarations.visible(db, ref_do, scope=orgs.scope_of(db, user, TEAM_ROLES))
            changes = _changes(form, formatter_of(request, db).zone)
            declarations.correct_and_resend(
                db=db, ref_do=ref_do, changes=changes, now=shell.clock(), actor=user.username
            )
    except DomainError as error:
        with shell.database.session() as db:
            field = f"{ref_do}-{_form_field(error.field)}"
            errors = [(field, f"{error.field or ''}: {shell.gettext(request, error.reason)}")]
            return _rejected(
                request, db, user, errors=errors, status_code=error.status_code, values=dict(form)
            )
    return RedirectResponse(path_to(request, "rejected_page", query={"resent": ref_do}), status_code=303)


def _rejected(
    request: Request,
    db: Session,
    user: StaffUser,
    *,
    errors: list[tuple[str, str]] | None = None,
    status_code: int = 200,
    values: dict[str, Any] | None = None,
) -> Response:
    shell = shell_of(request)
    formatter_of(request, db)  # the desk's zone, read with this session (the correction opens its own)
    scope = orgs.scope_of(db, user, TEAM_ROLES)
    waiting = [(d, declarations.deadline_of(db, d)) for d in declarations.rejected(db, scope=scope)]
    return shell.render(
        request,
        "do/rejected.html",
        status_code=status_code,
        errors=errors or [],
        waiting=waiting,
        closed=declarations.closed(db, scope=scope),
        natures=NATURES,
        values=values or {},
        resent=request.query_params.get("resent", ""),
    )


def _changes(form: Any, zone: ZoneInfo) -> dict[str, Any]:
    """The correction form's fields as the rules take them (times typed in the desk's zone)."""
    natures = []
    lines = dates.bounded_int(form.get("lines"), field="lines", lowest=0, highest=MAX_LINES, default=0)
    for index in range(lines):
        nature = form.get(f"nature_{index}", "")
        if nature:
            pbo, pto = form.get(f"pbo_{index}", ""), form.get(f"pto_{index}", "")
            natures.append({"nature": nature, "PBO": pbo, "PTO": pto})
    return {
        "pm": form.get("pm", ""),
        "started_at": _local(form.get("started_at", ""), zone, "started_at"),
        "ended_at": _local(form.get("ended_at", ""), zone, "ended_at"),
        "natures": natures,
    }


def _local(value: Any, zone: ZoneInfo, field: str) -> datetime | None:
    """A time typed in the correction form (``<input type="datetime-local">``), or None when empty."""
    if not value:
        return None
    return dates.local_moment(value, field=field, zone=zone)


def _form_field(field: str | None) -> str:
    """The id of the correction form's input for a rule's field name (natures[0].PBO → pbo_0)."""
    if not field or field == "natures":
        return "pm" if not field else "nature_0"
    if field.startswith("natures["):
        index, _, key = field[len("natures[") :].partition("]")
        return f"{key.lstrip('.').lower() or 'nature'}_{index}"
    return field if field in ("pm", "started_at", "ended_at") else "pm"


async def _json(request: Request) -> dict[str, Any]:
    try:
        data = await request.json()
    except (ValueError, RecursionError):
        raise DomainError("the body must be a JSON object", field="body") from None
    if not isinstance(data, dict):
        raise DomainError("the body must be a JSON object", field="body")
    return data


def _act(request: Request, rule: Any) -> Response:
    """Run a rule in its own transaction; a refusal names the field, translated for the page."""
    shell = shell_of(request)
    try:
        with shell.database.session() as db:
            declaration = rule(db, shell.clock())
            view = _view(declaration)
    except DomainError as error:
        body = {"field": error.field, "reason": error.reason, "message": shell.gettext(request, error.reason)}
        return JSONResponse(body, status_code=error.status_code)
    return JSONResponse(view)


def _view(declaration: Declaration) -> dict[str, Any]:
    return {
        "ref_do": declaration.ref_do,
        "pm": declaration.pm,
        "code_oi": declaration.code_oi,
        "started_at": declaration.debut.isoformat(),
        "ended_at": declaration.fin.isoformat() if declaration.fin else None,
        "natures": declaration.natures,
        "m1_state": declaration.m1_state,
        "m3_state": declaration.m3_state,
        "ref_oi": declaration.ref_oi,
    }


def _self_code(db: Session) -> str:
    try:
        return current(db).self_code
    except LookupError:
        return "DO"
