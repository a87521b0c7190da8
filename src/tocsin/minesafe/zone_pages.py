"""The zone editor (``/minesafe/zones``): the site map with the site file's zones (read-only) and the drawn
ones, a form to draw or change a zone (points clicked on the map, or typed as "x y" lines), removal with
a confirmation, and the site's orthophoto (upload, removal, served from here). Operators edit; viewers
see. The JSON API is in ``api.py``; the rules in ``zones.py``."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from tocsin.core import auth, dates
from tocsin.core.errors import DomainError
from tocsin.core.files import FileRefused, TooLarge
from tocsin.core.files.uploads import receive_form
from tocsin.core.web import DB, check_csrf, formatter_of, path_to, shell_of
from tocsin.core.web.inputs import INTEGER_KEY, MOMENT_WANTED, names_a_row
from tocsin.minesafe import zones
from tocsin.minesafe.model import Kind
from tocsin.minesafe.models import ZoneRow
from tocsin.minesafe.pages import KINDS, OPERATORS, READERS, ZONE_KINDS, SiteMap, the_site

router = APIRouter(prefix="/minesafe", include_in_schema=False)

SPEED_FIELDS = {"*": "speed-all", **{kind.value: f"speed-{kind.value}" for kind in Kind}}
DONE = {
    "created": "Zone {name} saved.",
    "changed": "Zone {name} changed.",
    "removed": "Zone {name} removed.",
    "photo": "The orthophoto is saved.",
    "photo-removed": "The orthophoto is removed.",
}


@dataclass
class Typed:
    """What the form shows: a zone's values as text (as typed when refused)."""

    name: str = ""
    kind: str = "blast"
    speeds: dict[str, str] = field(default_factory=dict)
    approach_m: str = "10"
    min_overspeed_s: str = "3"
    active_from: str = ""
    active_until: str = ""
    points: str = ""

    @classmethod
    def of(cls, row: ZoneRow, zone: Any) -> Typed:
        local = partial(_local, zone=zone)
        return cls(
            name=row.name,
            kind=row.kind,
            speeds={key: f"{value:g}" for key, value in row.speed_limits.items()},
            approach_m=f"{row.approach_m:g}",
            min_overspeed_s=f"{row.min_overspeed_s:g}",
            active_from=local(row.active_from),
            active_until=local(row.active_until),
            points="\n".join(f"{x:g} {y:g}" for x, y in row.polygon),
        )


def _local(moment: datetime | None, *, zone: Any) -> str:
    return "" if moment is None else moment.astimezone(zone).strftime("%Y-%m-%dT%H:%M")


def _page(
    request: Request,
    db: Session,
    user: auth.StaffUser,
    *,
    typed: Typed | None = None,
    editing: ZoneRow | None = None,
    errors: list[tuple[str, str]] | None = None,
    photo_errors: list[tuple[str, str]] | None = None,
    done: str = "",
    status_code: int = 200,
) -> Response:
    shell = shell_of(request)
    site, now = the_site(), shell.clock()
    rows = zones.live_zones(db=db, site=site.name)
    fmt_zone = formatter_of(request, db).zone
    photo = zones.orthophoto(db=db, site=site.name)
    return shell.render(
        request,
        "minesafe/zones.html",
        status_code=status_code,
        site=site,
        map=SiteMap(site),
        rows=rows,
        active={row.id: zones.is_active(row, now) for row in rows},
        can_edit=bool(set(user.roles) & {"operator", "admin"}),
        typed=typed or (Typed.of(editing, fmt_zone) if editing else Typed()),
        editing=editing,
        errors=(errors or []) + (photo_errors or []),
        done=done,
        photo=photo,
        orthophoto=None if photo is None else f"/minesafe/orthophoto/{site.name}?v={photo.id}",
        KINDS=KINDS,
        ZONE_KINDS=ZONE_KINDS,
        EDITABLE_KINDS=zones.KINDS,
        SPEED_FIELDS=SPEED_FIELDS,
        max_points=zones.MAX_POINTS,
        current="zones",
    )


@router.get("/zones", response_class=HTMLResponse, name="minesafe_zones")
def minesafe_zones(
    request: Request,
    edit: str = "",
    done: str = "",
    name: str = "",
    user: auth.StaffUser = Depends(READERS),
    db: Session = DB,
) -> Response:
    """The zone editor: the map, the zones, the form (operators)."""
    editing = None
    if edit:
        editing = _row(request, db, edit)
    message = ""
    if done in DONE:
        message = shell_of(request).gettext(request, DONE[done]).format(name=name[:80])
    return _page(request, db, user, editing=editing, done=message)


def _row(request: Request, db: Session, number: str) -> ZoneRow:
    not_found = HTTPException(404, shell_of(request).gettext(request, "No zone has this number."))
    if not number.isdigit() or not names_a_row(int(number), highest=INTEGER_KEY):
        raise not_found
    try:
        return zones.get_zone(db=db, site=the_site().name, zone_id=int(number))
    except DomainError:
        raise not_found from None


async def _typed(request: Request) -> Typed:
    form = await request.form()

    def text(name: str, limit: int = 200) -> str:
        value = form.get(name)
        return value[:limit] if isinstance(value, str) else ""

    speeds = {key: text(name, 40) for key, name in SPEED_FIELDS.items() if text(name, 40).strip()}
    return Typed(
        name=text("name", 200),
        kind=text("kind", 40),
        speeds=speeds,
        approach_m=text("approach_m", 40),
        min_overspeed_s=text("min_overspeed_s", 40),
        active_from=text("active_from", 40),
        active_until=text("active_until", 40),
        points=text("polygon", 40_000),
    )


def _checked(request: Request, db: Session, typed: Typed) -> zones.ZoneInput:
    """The typed zone checked, or ``ZoneRefused`` with every problem (page field names)."""
    checker = zones.Checker(the_site().grid)
    zone = formatter_of(request, db).zone
    window = (
        _moment(checker, "active_from", typed.active_from, zone),
        _moment(checker, "active_until", typed.active_until, zone),
    )
    raw: dict[str, Any] = {
        "name": typed.name,
        "kind": typed.kind,
        "polygon": zones.parse_points_text(typed.points, checker) or [],
        "speed_limits": {key: _number(value) for key, value in typed.speeds.items()},
        "approach_m": _number(typed.approach_m) if typed.approach_m.strip() else None,
        "min_overspeed_s": _number(typed.min_overspeed_s) if typed.min_overspeed_s.strip() else None,
    }
    return zones.check_zone(checker, raw, window)


def _moment(checker: zones.Checker, name: str, text: str, zone: Any) -> datetime | None:
    if not text.strip():
        return None
    try:
        return dates.local_moment(text.strip(), field=name, zone=zone)
    except DomainError:
        checker.fail(name, MOMENT_WANTED)
        return None


def _number(text: str) -> Any:
    """A typed number (a comma for the decimal point too); the text itself when it is none, so the
    checker names the field."""
    try:
        return float(text.strip().replace(",", "."))
    except ValueError:
        return text


def _errors(request: Request, refused: zones.ZoneRefused) -> list[tuple[str, str]]:
    translate = partial(shell_of(request).gettext, request)
    found = []
    for problem in refused.problems:
        name = problem.field
        if name.startswith("speed_limits"):
            key = name.partition(".")[2]
            name = SPEED_FIELDS.get(key, "speed-all")
        found.append((name, translate(problem.reason).format(**problem.values)))
    return found


async def _save(request: Request, db: Session, user: auth.StaffUser, editing: ZoneRow | None) -> Response:
    shell = shell_of(request)
    typed = await _typed(request)
    site, now = the_site(), shell.clock()
    try:
        data = await run_in_threadpool(_checked, request, db, typed)
        if editing is None:
            row = await run_in_threadpool(
                zones.create_zone, db=db, site=site, data=data, actor=user.username, now=now
            )
        else:
            row = await run_in_threadpool(
                zones.update_zone,
                db=db,
                site=site,
                zone_id=editing.id,
                data=data,
                actor=user.username,
                now=now,
            )
    except zones.ZoneRefused as refused:
        errors = _errors(request, refused)
        return await run_in_threadpool(
            partial(_page, request, db, user, typed=typed, editing=editing, errors=errors, status_code=400)
        )
    done = "created" if editing is None else "changed"
    return RedirectResponse(path_to(request, "minesafe_zones", query={"done": done, "name": row.name}), 303)


@router.post("/zones", name="minesafe_zone_create", dependencies=[Depends(check_csrf)])
async def minesafe_zone_create(
    request: Request, user: auth.StaffUser = Depends(OPERATORS), db: Session = DB
) -> Response:
    """Save a new zone; back to the editor (or the form again with what is wrong)."""
    return await _save(request, db, user, None)


@router.post("/zones/{zone_id}", name="minesafe_zone_update", dependencies=[Depends(check_csrf)])
async def minesafe_zone_update(
    request: Request, zone_id: str, user: auth.StaffUser = Depends(OPERATORS), db: Session = DB
) -> Response:
    """Save changes to a drawn zone."""
    editing = await run_in_threadpool(_row, request, db, zone_id)
    return await _save(request, db, user, editing)


@router.get("/zones/{zone_id}/remove", response_class=HTMLResponse, name="minesafe_zone_remove_ask")
def minesafe_zone_remove_ask(
    request: Request, zone_id: str, user: auth.StaffUser = Depends(OPERATORS), db: Session = DB
) -> Response:
    """Ask before removing a zone."""
    row = _row(request, db, zone_id)
    return shell_of(request).render(
        request, "minesafe/zone_remove.html", row=row, ZONE_KINDS=ZONE_KINDS, current="zones"
    )


@router.post("/zones/{zone_id}/remove", name="minesafe_zone_remove", dependencies=[Depends(check_csrf)])
def minesafe_zone_remove(
    request: Request, zone_id: str, user: auth.StaffUser = Depends(OPERATORS), db: Session = DB
) -> Response:
    """Remove a zone (the row stays, marked removed, audited)."""
    row = _row(request, db, zone_id)
    zones.remove_zone(
        db=db, site=the_site(), zone_id=row.id, actor=user.username, now=shell_of(request).clock()
    )
    return RedirectResponse(
        path_to(request, "minesafe_zones", query={"done": "removed", "name": row.name}), 303
    )


# --- the orthophoto -----------------------------------------------------------------------------------


@router.post("/orthophoto", name="minesafe_orthophoto_upload")
async def minesafe_orthophoto_upload(
    request: Request, user: auth.StaffUser = Depends(OPERATORS), db: Session = DB
) -> Response:
    """Keep an uploaded PNG or JPEG as the site's orthophoto (scanned, typed from its bytes)."""
    shell = shell_of(request)
    site, now = the_site(), shell.clock()
    try:
        form = await receive_form(request, kind=zones.ORTHOPHOTOS)
        if form.upload is None:
            message = shell.gettext(request, "Choose a PNG or JPEG file to upload.")
            return await run_in_threadpool(
                partial(_page, request, db, user, photo_errors=[("file", message)], status_code=400)
            )
        await run_in_threadpool(
            zones.keep_orthophoto,
            db=db,
            files=shell.files,
            upload=form.upload,
            site=site.name,
            actor=user.username,
            now=now,
        )
    except FileRefused as error:
        explained = error.explain(
            translate=partial(shell.gettext, request), size=formatter_of(request, db).size
        )
        status = 413 if isinstance(error, TooLarge) else error.status_code
        return await run_in_threadpool(
            partial(_page, request, db, user, photo_errors=[("file", explained)], status_code=status)
        )
    return RedirectResponse(path_to(request, "minesafe_zones", query={"done": "photo"}), 303)


@router.post("/orthophoto/remove", name="minesafe_orthophoto_remove", dependencies=[Depends(check_csrf)])
def minesafe_orthophoto_remove(
    request: Request, user: auth.StaffUser = Depends(OPERATORS), db: Session = DB
) -> Response:
    """Stop drawing the orthophoto."""
    zones.remove_orthophoto(db=db, site=the_site().name, actor=user.username, now=shell_of(request).clock())
    return RedirectResponse(path_to(request, "minesafe_zones", query={"done": "photo-removed"}), 303)


@router.get("/orthophoto/{site_name}", name="minesafe_orthophoto")
def minesafe_orthophoto(
    request: Request, site_name: str, user: auth.StaffUser = Depends(READERS), db: Session = DB
) -> FileResponse:
    """The site's orthophoto, from our own files, as the type found in its bytes."""
    shell = shell_of(request)
    stored = zones.orthophoto(db=db, site=site_name[:60])
    path = None if stored is None else shell.files.blob_path(stored.sha256)
    if stored is None or path is None or not path.is_file():
        raise HTTPException(404, shell.gettext(request, "This site has no orthophoto."))
    return FileResponse(
        path,
        media_type=stored.content_type,
        headers={"X-Content-Type-Options": "nosniff", "Cache-Control": "private, max-age=3600"},
    )
