"""Staff sign in with argon2id passwords; forms carry a CSRF token; errors name the field."""

import re

import pytest
from fastapi.testclient import TestClient

from tocsin.core.audit import AuditEvent
from tocsin.core.auth import upsert_staff


@pytest.fixture
def web(app, database):
    with database.session() as db:
        upsert_staff(db, username="marie", password="correct horse", roles=["operator"])
    with TestClient(app) as client:
        yield client


def csrf(page: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', page).group(1)


def test_sign_in_with_the_right_password(web, database):
    token = csrf(web.get("/login").text)
    reply = web.post(
        "/login",
        data={"username": "marie", "password": "correct horse", "csrf": token, "next": "/"},
        follow_redirects=False,
    )
    assert reply.status_code == 303 and reply.headers["location"] == "/"
    assert "marie" in web.get("/").text
    with database.session() as db:
        assert db.query(AuditEvent).filter_by(action="staff.login").count() == 1


def test_wrong_password_shows_an_error_summary_naming_the_field(web):
    token = csrf(web.get("/login?lang=en").text)
    reply = web.post("/login", data={"username": "marie", "password": "nope", "csrf": token})
    assert reply.status_code == 400
    assert 'class="error-summary"' in reply.text and 'href="#password"' in reply.text
    assert "User name or password is wrong." in reply.text


def test_empty_fields_are_each_named(web):
    token = csrf(web.get("/login?lang=en").text)
    reply = web.post("/login", data={"username": "", "password": "", "csrf": token})
    assert 'href="#username"' in reply.text and 'href="#password"' in reply.text


def test_a_post_without_the_csrf_token_is_refused(web):
    reply = web.post("/login", data={"username": "marie", "password": "correct horse"})
    assert reply.status_code == 400
    assert "csrf" in reply.text


def test_next_cannot_send_a_user_to_another_site(web):
    token = csrf(web.get("/login").text)
    reply = web.post(
        "/login",
        data={"username": "marie", "password": "correct horse", "csrf": token, "next": "//evil.example/"},
        follow_redirects=False,
    )
    assert reply.headers["location"] == "/"


def test_unknown_user_is_refused_like_a_wrong_password(web):
    token = csrf(web.get("/login?lang=en").text)
    reply = web.post("/login", data={"username": "nobody", "password": "x", "csrf": token})
    assert reply.status_code == 400 and "User name or password is wrong." in reply.text


def test_sign_out_forgets_the_session(web):
    token = csrf(web.get("/login").text)
    web.post("/login", data={"username": "marie", "password": "correct horse", "csrf": token})
    page = web.get("/").text
    web.post("/logout", data={"csrf": csrf(page)})
    assert "marie" not in web.get("/").text


def test_a_refused_role_gets_a_403_page_not_a_crash(app, database):
    from fastapi import Depends

    from tocsin.core.web import require_staff

    @app.get("/test-admin-only")
    def admin_only(user=Depends(require_staff("admin"))):
        return {"ok": True}

    with database.session() as db:
        upsert_staff(db, username="tech", password="pw-pw-pw-pw", roles=["technician"])
    with TestClient(app) as client:
        token = csrf(client.get("/login").text)
        client.post("/login", data={"username": "tech", "password": "pw-pw-pw-pw", "csrf": token})
        reply = client.get("/test-admin-only?lang=en")
    assert reply.status_code == 403 and "Your role does not allow this page." in reply.text
