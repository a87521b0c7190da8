"""OC pages: interventions announced to us, the outage feed, and each intervention's M5 preview."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from functools import partial
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from tocsin.core.auth import StaffUser
from tocsin.core.errors import Conflict, NotFound
from tocsin.core.files import FileRefused, TooLarge
from tocsin.core.files.uploads import receive_form
from tocsin.core.files.web import file_url
from tocsin.core.web import DB, check_csrf, formatter_of, path_to, require_staff, shell_of
from tocsin.core.web.formatting import Formatter
from tocsin.core.web.inputs import Inputs, Pager, Sorting, names_a_row, notice_count
from tocsin.interventions.config import current
from tocsin.interventions.models import DeskConfig, LineCut, M5State, OutageImport, ReceivedIntervention
from tocsin.interventions.oc import imports, outages

router = APIRouter(prefix="/interventions/oc", include_in_schema=False)
M5_STATES = tuple(state.value for state in M5State)
STAGES = ("started", "ended")
RECENT_CUTS = 100
LISTED_PROBLEMS = 200
DONE = ("imported", "duplicates")
RECEIVED_SORTING = Sorting(
    {
        "reference": ReceivedIntervention.ref_oi,
        "oi": ReceivedIntervention.code_oi,
        "pm": ReceivedIntervention.pm,
        "start": ReceivedIntervention.debut,
        "end": ReceivedIntervention.fin,
        "m2": ReceivedIntervention.m2_at,
        "m4": ReceivedIntervention.m4_at,
        "m5": ReceivedIntervention.m5_state,
    },
    default="-start",
    key=ReceivedIntervention.id,
)


def _config(db: Session) -> DeskConfig | None:
    try:
        return current(db)
    except LookupError:
        return None


@router.get("/received", response_class=HTMLResponse)
def received_list(
    request: Request,
    day: str = "",
    pm: str = "",
    stage: str = "",
    m5: str = "",
    sort: str = "",
    page: str = "1",
    user: StaffUser = Depends(require_staff("operator", "viewer")),
    db: Session = DB,
) -> Response:
    """Interventions announced by OIs, filtered by local day, PM, stage (M2/M4) and M5 state, a page
    at a time, most recent first or sorted by a column."""
    shell, config = shell_of(request), _config(db)
    inputs = Inputs(request)
    zone = inputs.zone
    order = inputs.sort(sort, RECEIVED_SORTING)
    first = inputs.day("day", day)
    number = inputs.page(page)
    query = select(ReceivedIntervention)
    if first:
        start = datetime.combine(first, time(), tzinfo=zone)
        end = datetime.combine(first + timedelta(days=1), time(), tzinfo=zone)
        query = query.where(ReceivedIntervention.debut >= start, ReceivedIntervention.debut < end)
    if pm.strip():
        query = query.where(ReceivedIntervention.pm.startswith(pm.strip().upper(), autoescape=True))
    if stage in STAGES:
        ended = ReceivedIntervention.fin.is_not(None)
        query = query.where(ended if stage == "ended" else ~ended)
    if m5 in M5_STATES:
        query = query.where(ReceivedIntervention.m5_state == m5)
    filters = {"day": day, "pm": pm, "stage": stage, "m5": m5, "sort": order.value if order.chosen else ""}
    total = 0 if inputs.errors else db.scalar(select(func.count()).select_from(query.subquery())) or 0
    pager = Pager(number, total, filters)
    ordered = query.order_by(*RECEIVED_SORTING.order_by(order))
    rows = [] if inputs.errors else list(db.scalars(ordered.offset(pager.offset).limit(pager.size)))
    return shell.render(
        request,
        "oc/received.html",
        status_code=400 if inputs.errors else 200,
        errors=inputs.errors,
        rows=rows,
        pager=pager,
        filters=filters,
        m5_states=M5_STATES,
        stages=STAGES,
        sort=order,
        config=config,
    )


@router.get("/received/{received_id}", response_class=HTMLResponse)
def m5_preview(
    request: Request,
    received_id: int,
    user: StaffUser = Depends(require_staff("operator", "viewer")),
    db: Session = DB,
) -> Response:
    """The M5 of one intervention: customers counted, cuts left out and why, and a send button."""
    return _preview(request, db, _received(db, received_id), user)


@router.post("/received/{received_id}/m5")
def send_m5(
    request: Request,
    received_id: int,
    user: StaffUser = Depends(require_staff("operator")),
    _csrf: None = Depends(check_csrf),
    db: Session = DB,
) -> Response:
    """Queue the M5 now (first send, or a re-send after a KO or a failed delivery)."""
    received = _received(db, received_id)
    try:
        outages.queue_m5(db=db, received=received, now=shell_of(request).clock(), actor=user.username)
    except Conflict as error:
        message = shell_of(request).gettext(request, error.reason)
        return _preview(request, db, received, user, errors=[("send-m5", message)], status_code=409)
    return RedirectResponse(
        path_to(request, "m5_preview", query={"queued": 1}, received_id=received_id), status_code=303
    )


def _received(db: Session, received_id: int) -> ReceivedIntervention:
    received = db.get(ReceivedIntervention, received_id) if names_a_row(received_id) else None
    if received is None:
        raise NotFound("no such intervention", field="received_id")
    return received


def _preview(
    request: Request,
    db: Session,
    received: ReceivedIntervention,
    user: StaffUser,
    *,
    errors: list[tuple[str, str]] | None = None,
    status_code: int = 200,
) -> Response:
    config = _config(db)
    now = shell_of(request).clock()
    result = body = refusal = due = None
    if config is not None:
        refusal = outages.m5_refusal(db=db, received=received, config=config, now=now)
        due = outages.m5_due_at(received, config)
        if received.fin is not None:
            result = outages.review(db=db, received=received, config=config)
            body = outages.m5_body(received=received, customers=result.counted, config=config)
    return shell_of(request).render(
        request,
        "oc/preview.html",
        status_code=status_code,
        errors=errors or [],
        received=received,
        review=result,
        body=body,
        refusal=refusal,
        due=due,
        config=config,
        can_send=bool(set(user.roles) & {"operator", "admin"}),
        queued=request.query_params.get("queued") == "1",
    )


@router.get("/outages", response_class=HTMLResponse)
def outage_feed(
    request: Request,
    user: StaffUser = Depends(require_staff("operator", "viewer")),
    db: Session = DB,
) -> Response:
    """The outage feed: upload form, the import history and the most recent cuts."""
    counts = {k: notice_count(request.query_params.get(k), highest=outages.MAX_ROWS) for k in DONE}
    return _feed_page(request, db, user, done={k: n for k, n in counts.items() if n is not None})


@router.post("/outages", response_class=HTMLResponse)
async def upload_outages(
    request: Request,
    user: StaffUser = Depends(require_staff("operator")),
    db: Session = DB,
) -> Response:
    """Scan an uploaded CSV and import it, all or nothing; on errors list every bad line and field. The
    request is read as it arrives (no ``UploadFile``): past 5 MB it is refused without reading on."""
    shell = shell_of(request)
    now = shell.clock()
    try:
        form = await receive_form(request, kind=imports.OUTAGE_FILES)
    except TooLarge as error:
        await run_in_threadpool(
            imports.refuse, db=db, error=error, source="csv", size=None, now=now, actor=user.username
        )
        return await run_in_threadpool(_refused_page, request, db, user, error)
    if form.upload is None:
        errors = [("file", shell.gettext(request, "Choose a CSV file to upload."))]
        return await run_in_threadpool(_feed_page, request, db, user, errors=errors, status_code=400)
    outcome = await run_in_threadpool(
        imports.import_file,
        db=db,
        files=shell.files,
        upload=form.upload,
        source="csv",
        now=now,
        actor=user.username,
    )
    if isinstance(outcome.error, FileRefused):
        return await run_in_threadpool(_refused_page, request, db, user, outcome.error)
    if isinstance(outcome.error, outages.FeedError):
        problems = outcome.error.problems
        return await run_in_threadpool(_feed_page, request, db, user, problems=problems, status_code=400)
    query = urlencode({"imported": outcome.record.imported, "duplicates": outcome.record.duplicates})
    return RedirectResponse(f"{path_to(request, 'outage_feed')}?{query}", status_code=303)


def _refused_page(request: Request, db: Session, user: StaffUser, error: FileRefused) -> Response:
    """The feed page with the reason a file was refused (413, 415, 503 … as the refusal says)."""
    explained = error.explain(
        translate=partial(shell_of(request).gettext, request), size=formatter_of(request, db).size
    )
    return _feed_page(request, db, user, errors=[("file", explained)], status_code=error.status_code)


def _refusal_text(request: Request, record: OutageImport, formatter: Formatter) -> str:
    """Why an import was refused, in the reader's language (sizes in the reader's units)."""
    translate = partial(shell_of(request).gettext, request)
    values = {
        key: formatter.size(value)
        if key == "limit"
        else translate(value)
        if isinstance(value, str)
        else value
        for key, value in record.refused_values.items()
    }
    return translate(record.refused or "").format(name=record.file_name, **values)


def _feed_page(
    request: Request,
    db: Session,
    user: StaffUser,
    *,
    errors: list[tuple[str, str]] | None = None,
    problems: list[outages.RowProblem] | None = None,
    done: dict[str, int] | None = None,
    status_code: int = 200,
) -> Response:
    shell = shell_of(request)
    errors = list(errors or [])
    for problem in (problems or [])[:LISTED_PROBLEMS]:
        text = shell.gettext(request, "Line {line}, field {field}: {reason}")
        reason = shell.gettext(request, problem.reason)
        errors.append(("file", text.format(line=problem.line, field=problem.field, reason=reason)))
    more = len(problems or []) - LISTED_PROBLEMS
    if more > 0:
        errors.append(("file", shell.gettext(request, "And {count} more problems.").format(count=more)))
    cuts = db.scalars(select(LineCut).order_by(LineCut.cut_at.desc(), LineCut.id.desc()).limit(RECENT_CUTS))
    config = _config(db)
    formatter = formatter_of(request, db)
    history = [
        (record, stored, _refusal_text(request, record, formatter) if record.refused else "")
        for record, stored in imports.history(db=db)
    ]
    return shell.render(
        request,
        "oc/outages.html",
        status_code=status_code,
        errors=errors,
        cuts=list(cuts),
        history=history,
        file_url=file_url,
        done=done or {},
        config=config,
        can_upload=bool(set(user.roles) & {"operator", "admin"}),
    )
