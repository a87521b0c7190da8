"""A staff session lives on the server: signing out, changing the password or staying idle ends it, so a
copied cookie stops working; sign-in is throttled per user and address."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.support import csrf_of, make_staff, submit_login_form
from tocsin.core.web.routes import LOGIN_POLICY

PAGE = "/account/password"


def signed_in(client: TestClient) -> bool:
    return client.get("/interventions/oi/interventions", follow_redirects=False).status_code == 200


@pytest.fixture
def web(app, database):
    make_staff(database, username="marie", roles=["operator"])
    with TestClient(app) as client:
        yield client


def test_a_copied_cookie_stops_working_after_sign_out(web, app):
    submit_login_form(web, "marie")
    copied = dict(web.cookies)
    web.post("/logout", data={"csrf": csrf_of(web.get(PAGE).text)})
    with TestClient(app, cookies=copied) as thief:
        assert not signed_in(thief)


def test_changing_the_password_ends_the_other_sessions_but_not_this_one(web, app):
    submit_login_form(web, "marie")
    with TestClient(app) as other:
        submit_login_form(other, "marie")
        assert signed_in(other)
        reply = web.post(
            PAGE,
            data={"current": "correct horse 42", "new": "a much longer one", "again": "a much longer one"}
            | {"csrf": csrf_of(web.get(PAGE).text)},
            follow_redirects=False,
        )
        assert reply.status_code == 303
        assert signed_in(web)
        assert not signed_in(other)
    with TestClient(app) as later:
        submit_login_form(later, "marie", "a much longer one")


def test_a_new_password_set_from_the_command_line_ends_every_session(web, database):
    submit_login_form(web, "marie")
    make_staff(database, username="marie", roles=["operator"], password="another password 7")
    assert not signed_in(web)


def test_the_password_form_names_each_wrong_field(web):
    submit_login_form(web, "marie")
    reply = web.post(
        PAGE,
        data={"current": "nope", "new": "short", "again": "other", "csrf": csrf_of(web.get(PAGE).text)},
    )
    assert reply.status_code == 400
    for field in ("current", "new", "again"):
        assert f'href="#{field}"' in reply.text


def test_an_idle_session_ends(web, clock):
    submit_login_form(web, "marie")
    clock.advance(minutes=59)
    assert signed_in(web)
    clock.advance(minutes=61)
    assert not signed_in(web)


def test_a_session_ends_after_its_lifetime_even_when_used(web, clock):
    submit_login_form(web, "marie")
    alive = []
    for _ in range(14):  # 14 × 55 min: never idle, but past the 12 h lifetime
        clock.advance(minutes=55)
        alive.append(signed_in(web))
    assert alive[:13] == [True] * 13 and alive[13] is False


def test_sign_in_is_throttled_per_user_with_retry_after(web):
    token = csrf_of(web.get("/login").text)
    for _ in range(LOGIN_POLICY.free + 1):
        web.post("/login", data={"username": "marie", "password": "wrong", "csrf": token})
    reply = web.post(
        "/login?lang=en", data={"username": "marie", "password": "correct horse 42", "csrf": token}
    )
    assert reply.status_code == 429 and int(reply.headers["Retry-After"]) >= 1
    assert "Too many failed attempts" in reply.text and 'href="#password"' in reply.text


def test_the_throttle_lifts_after_its_delay(web, clock):
    token = csrf_of(web.get("/login").text)
    for _ in range(LOGIN_POLICY.free + 1):
        web.post("/login", data={"username": "marie", "password": "wrong", "csrf": token})
    clock.advance(seconds=2)
    submit_login_form(web, "marie")
