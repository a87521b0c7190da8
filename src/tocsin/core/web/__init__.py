"""The web shell every desk plugs into. Desks import what they need from here:
``Db`` (a committed-before-reply session), ``require_staff``, ``require_scope``, ``check_csrf``,
``shell_of`` (settings, clock, templates of the app), ``formatter_of`` (how the page shows values)."""

from tocsin.core.desk import Desk, NavLink
from tocsin.core.web.app import build_app
from tocsin.core.web.csrf import check_csrf, csrf_token
from tocsin.core.web.errors import TokenProblem, wants_json
from tocsin.core.web.oauth import require_scope, staff_or_partner
from tocsin.core.web.sessions import LoginRequired, RoleMissing, current_user, require_staff
from tocsin.core.web.shell import DB, Db, Shell, formatter_of, get_db, path_to, shell_of

__all__ = [
    "DB",
    "Db",
    "Desk",
    "LoginRequired",
    "NavLink",
    "RoleMissing",
    "Shell",
    "TokenProblem",
    "build_app",
    "check_csrf",
    "csrf_token",
    "formatter_of",
    "current_user",
    "get_db",
    "path_to",
    "require_scope",
    "staff_or_partner",
    "require_staff",
    "shell_of",
    "wants_json",
]
