"""The shell's own pages: home, sign-in and sign-out, the account's password, health, API docs."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Form, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from sqlalchemy import text

from tocsin.core import audit
from tocsin.core.auth import passwords, staff, throttle
from tocsin.core.auth.staff import StaffUser
from tocsin.core.web.csrf import check_csrf
from tocsin.core.web.sessions import (
    SESSION_KEY,
    LoginRequired,
    client_address,
    current_user,
    end_session,
    require_staff,
    start_session,
)
from tocsin.core.web.shell import Db, path_to, shell_of

LOGIN_POLICY = throttle.Policy(free=5, base=1.0, cap=900.0, forget_after=900.0)
SHORTEST_PASSWORD = 12

router = APIRouter(include_in_schema=False)


@router.get("/", response_class=HTMLResponse)
def home(request: Request) -> Response:
    """The links the reader's roles open; someone with a single purpose goes straight to their page."""
    shell = shell_of(request)
    landing = shell.landing(request)
    if landing:
        return RedirectResponse(landing, status_code=303)
    return shell.render(request, "home.html")


@router.get("/ping")
async def ping() -> dict[str, str]:
    """Constant answer with no database work: liveness, and the framework ceiling in benchmarks."""
    return {"status": "ok"}


@router.get("/healthz")
def health(request: Request, db: Db) -> dict[str, str]:
    db.execute(text("SELECT 1"))
    return {"status": "ok", "database": shell_of(request).database.dialect}


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, next: str = "/") -> Response:
    return shell_of(request).render(request, "login.html", next=safe_next(next))


@router.post("/login", dependencies=[Depends(check_csrf)])
def login(
    request: Request, db: Db, username: str = Form(""), password: str = Form(""), next: str = Form("/")
) -> Response:
    shell = shell_of(request)
    name = username.strip()
    errors = []
    if not name:
        errors.append(("username", shell.gettext(request, "Enter your user name.")))
    if not password:
        errors.append(("password", shell.gettext(request, "Enter your password.")))
    keys = [f"login-user:{name.lower()[:100]}", f"login-address:{client_address(request)}"]
    wait = None if errors else throttle.locked_for(db, keys, now=shell.clock())
    if wait is not None:
        text_ = shell.gettext(request, "Too many failed attempts. Try again in {seconds} s.")
        errors.append(("password", text_.format(seconds=wait)))
    user = None if errors else staff.authenticate_staff(db, username=name, password=password)
    if not errors and user is None:
        throttle.failed(db, keys, now=shell.clock(), policy=LOGIN_POLICY)
        errors.append(("password", shell.gettext(request, "User name or password is wrong.")))
    if errors:
        page = shell.render(
            request,
            "login.html",
            status_code=429 if wait is not None else 400,
            errors=errors,
            next=safe_next(next),
            username=username,
        )
        if wait is not None:
            page.headers["Retry-After"] = str(wait)
        return page
    assert user is not None
    throttle.succeeded(db, keys[:1])
    start_session(request, db, user)
    _audit(request, db, user, "staff.login")
    return RedirectResponse(safe_next(next), status_code=303)


@router.post("/logout", dependencies=[Depends(check_csrf)])
def logout(request: Request, db: Db) -> Response:
    end_session(request, db)
    return RedirectResponse(path_to(request, "home"), status_code=303)


SIGNED_IN = require_staff()


@router.get("/account/password", response_class=HTMLResponse)
def password_form(request: Request, user: StaffUser = Depends(SIGNED_IN)) -> Response:
    return shell_of(request).render(request, "password.html")


@router.post("/account/password", dependencies=[Depends(check_csrf)])
def change_password(
    request: Request,
    db: Db,
    user: StaffUser = Depends(SIGNED_IN),
    current: str = Form(""),
    new: str = Form(""),
    again: str = Form(""),
) -> Response:
    """A new password ends every other session of the user at once."""
    shell = shell_of(request)
    errors = password_problems(request, user, current=current, new=new, again=again)
    if errors:
        return shell.render(request, "password.html", status_code=400, errors=errors)
    staff.change_password(db, user_id=user.id, password=new, keep=request.session.get(SESSION_KEY))
    _audit(request, db, user, "staff.password_changed")
    return RedirectResponse(path_to(request, "password_form", query={"changed": 1}), status_code=303)


def password_problems(
    request: Request, user: StaffUser, *, current: str, new: str, again: str
) -> list[tuple[str, str]]:
    """Each wrong field of the change-password form with the reason, in the reader's language."""
    shell = shell_of(request)
    errors = []
    if not passwords.verify_secret(user.password_hash, current):
        errors.append(("current", shell.gettext(request, "Your current password is wrong.")))
    if len(new) < SHORTEST_PASSWORD:
        errors.append(("new", shell.gettext(request, "Choose a password of 12 characters or more.")))
    elif new.strip().lower() == user.username.lower() or new == current:
        errors.append(
            (
                "new",
                shell.gettext(request, "Choose a password other than your user name or current password."),
            )
        )
    if new != again:
        errors.append(("again", shell.gettext(request, "The two new passwords differ.")))
    return errors


def _audit(request: Request, db: Db, user: StaffUser, action: str) -> None:
    at = shell_of(request).clock()
    audit.record(db, at=at, actor=user.username, action=action, object_type="staff_user", object_id=user.id)


def docs_allowed(request: Request) -> None:
    """The staff API's description is public in the demo only; elsewhere it needs a signed-in user."""
    if not shell_of(request).settings.public_api_docs and current_user(request) is None:
        raise LoginRequired()


@router.get("/api/openapi.json", dependencies=[Depends(docs_allowed)])
def openapi(request: Request) -> Response:
    return JSONResponse(request.app.openapi())


@router.get("/api/docs", dependencies=[Depends(docs_allowed)])
def docs(request: Request) -> Response:
    return get_swagger_ui_html(openapi_url="/api/openapi.json", title="Tocsin API")


def safe_next(target: str) -> str:
    """Only local paths, so the login form cannot bounce a user to another site."""
    ok = target.startswith("/") and not target.startswith("//") and "\\" not in target
    return target if ok else "/"
