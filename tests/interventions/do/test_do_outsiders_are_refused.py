"""Every DO endpoint refuses someone not signed in, someone without the role, and a missing CSRF token."""

from __future__ import annotations

import pytest

from tests.interventions.support import START, make_declaration, nature_lines, outbox_messages, reject
from tests.support import sign_in

BODY = {"ref_do": "DOXX-PHONE-1", "pm": "FI-12345-0001", "natures": nature_lines(1), "started_at": START}
JSON_CALLS = [
    ("post", "/api/interventions/do/start", BODY),
    ("post", "/api/interventions/do/end", {"ref_do": "DOXX-PHONE-1", "ended_at": START}),
    ("get", "/api/interventions/do/declarations/DOXX-PHONE-1", None),
]
TECHNICIAN_PAGES = ["/interventions/do/technician"]
REVIEWER_PAGES = ["/interventions/do/rejected"]


@pytest.mark.parametrize(("method", "path", "body"), JSON_CALLS)
def test_json_endpoints_answer_401_to_someone_not_signed_in(web, method, path, body):
    reply = web.request(method, path, json=body, headers={"X-CSRF-Token": "x"})
    assert reply.status_code == 401


@pytest.mark.parametrize(("method", "path", "body"), JSON_CALLS)
@pytest.mark.parametrize("role", ["viewer", "operator"])
def test_json_endpoints_answer_403_to_other_roles(web, database, method, path, body, role):
    csrf = sign_in(web, database, "vic", [role])
    reply = web.request(method, path, json=body, headers={"X-CSRF-Token": csrf})
    assert reply.status_code == 403
    assert outbox_messages(database) == []


@pytest.mark.parametrize("path", ["/api/interventions/do/start", "/api/interventions/do/end"])
def test_json_posts_need_the_csrf_token(web, database, path):
    sign_in(web, database, "tina", ["technician"])
    reply = web.post(path, json=BODY)
    assert (reply.status_code, reply.json()["field"]) == (400, "csrf")
    assert outbox_messages(database) == []


@pytest.mark.parametrize("path", TECHNICIAN_PAGES + REVIEWER_PAGES)
def test_pages_send_someone_not_signed_in_to_the_login_form(web, path):
    reply = web.get(path, follow_redirects=False)
    assert reply.status_code == 303
    assert reply.headers["location"].startswith("/login?next=")


@pytest.mark.parametrize(
    ("path", "role"), [*[(p, "operator") for p in TECHNICIAN_PAGES], *[(p, "viewer") for p in REVIEWER_PAGES]]
)
def test_pages_refuse_other_roles(web, database, path, role):
    sign_in(web, database, "vic", [role])
    assert web.get(path).status_code == 403


def test_the_correction_form_refuses_other_roles_and_missing_csrf(web, database, clock):
    ref = make_declaration(database, clock)
    reject(database, clock)
    form = {"pm": "FI-12345-0002", "started_at": "", "ended_at": "", "lines": "0"}
    reply = web.post(f"/interventions/do/rejected/{ref}", data=form, follow_redirects=False)
    assert reply.status_code == 303 and reply.headers["location"].startswith("/login")
    csrf = sign_in(web, database, "vic", ["viewer"])
    assert web.post(f"/interventions/do/rejected/{ref}", data={**form, "csrf": csrf}).status_code == 403
    sign_in(web, database, "olive", ["operator"])
    assert web.post(f"/interventions/do/rejected/{ref}", data=form).status_code == 400
    assert len(outbox_messages(database)) == 1
