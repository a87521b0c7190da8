"""Every answer carries a Content-Security-Policy that forbids framing, nosniff and a strict referrer
policy; HSTS on HTTPS; an unknown Host is refused, never echoed; the staff API's description needs a
signed-in user unless the deployment opens it (the demo does)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.support import sign_in


@pytest.fixture
def web(app):
    with TestClient(app) as client:
        yield client


@pytest.mark.parametrize("path", ["/", "/login", "/ping", "/v1/intervention_DO", "/no-such-page"])
def test_every_answer_carries_the_security_headers(web, path):
    headers = web.get(path).headers
    policy = headers["content-security-policy"]
    assert "frame-ancestors 'none'" in policy and "script-src 'self'" in policy
    assert "unsafe-inline" not in policy
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "same-origin"
    assert headers["x-frame-options"] == "DENY"
    assert "strict-transport-security" not in headers


def test_hsts_is_sent_on_https(app):
    with TestClient(app, base_url="https://testserver") as client:
        assert client.get("/login").headers["strict-transport-security"].startswith("max-age=31536000")


def test_an_unknown_host_is_refused_and_not_echoed(web):
    reply = web.get(
        "/interventions/oi/interventions/", headers={"Host": "evil.example"}, follow_redirects=False
    )
    assert reply.status_code == 400
    assert "evil.example" not in reply.headers.get("location", "") + reply.text


def test_api_docs_need_a_signed_in_user(web, database):
    assert web.get("/api/openapi.json").status_code == 401
    assert web.get("/api/docs", follow_redirects=False).headers["location"].startswith("/login")
    sign_in(web, database, "marie", ["viewer"])
    assert web.get("/api/openapi.json").json()["info"]["title"] == "Tocsin"
    assert web.get("/api/docs").status_code == 200


def test_the_demo_may_open_the_api_docs(settings, database, clock):
    from tocsin.app import create_app

    opened = settings.model_copy(update={"public_api_docs": True})
    with TestClient(create_app(opened, database=database, clock=clock)) as client:
        assert client.get("/api/openapi.json").status_code == 200


def test_pages_have_no_inline_script_or_style(web, database):
    sign_in(web, database, "marie", ["admin"])
    for path in (
        "/",
        "/login",
        "/account/password",
        "/interventions/oi/statistics",
        "/interventions/oc/outages",
    ):
        page = web.get(path).text
        assert "<script>" not in page and " style=" not in page, path
