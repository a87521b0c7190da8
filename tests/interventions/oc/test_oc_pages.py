"""OC pages: received interventions, outage feed upload, M5 preview and sending; in French and English;
outsiders and viewers kept out of what they may not do."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.interventions.support import add_cut, add_received, apply_oc_config
from tests.support import sign_in
from tocsin.core.outbox import OutboxMessage
from tocsin.interventions.models import LineCut

HEADER = "cut_at,pm,pto,pbo,tube,fibre,position,dying_gasp\n"


@pytest.fixture
def web(app, database, clock, clamd):
    apply_oc_config(database, clock())
    with TestClient(app) as client:
        yield client


@pytest.fixture
def intervention(database):
    received_id = add_received(database)
    add_cut(database, "2026-11-20T10:15:00+01:00", "FI-1234-0001")
    add_cut(database, "2026-11-20T10:20:00+01:00", "FI-1234-0002", dying_gasp=True)
    return received_id


def upload(web, token, content: bytes):
    files = {"file": ("cuts.csv", content, "text/csv")}
    return web.post("/interventions/oc/outages", data={"csrf": token}, files=files, follow_redirects=False)


@pytest.mark.parametrize(
    ("lang", "title", "excluded"),
    [
        ("fr", "Interventions reçues", "coupure électrique (dying gasp)"),
        ("en", "Received interventions", "power cut"),
    ],
)
def test_pages_render_in_french_and_english(web, database, intervention, lang, title, excluded):
    sign_in(web, database, "olga", ["operator"])
    listing = web.get(f"/interventions/oc/received?lang={lang}")
    assert listing.status_code == 200 and title in listing.text and "OIAA-20261120-0001" in listing.text
    preview = web.get(f"/interventions/oc/received/{intervention}")
    assert preview.status_code == 200 and excluded in preview.text and "FI-1234-0001" in preview.text
    assert web.get("/interventions/oc/outages").status_code == 200


def test_received_list_filters_by_day_pm_and_m5_state(web, database, intervention):
    add_received(database, ref="OIAA-OTHER-PM", pm="FI-12345-0002")
    sign_in(web, database, "victor", ["viewer"])
    page = web.get("/interventions/oc/received", params={"pm": "FI-12345-0002", "day": "2026-11-20"})
    assert "OIAA-OTHER-PM" in page.text and "OIAA-20261120-0001" not in page.text
    page = web.get("/interventions/oc/received", params={"m5": "ok"})
    assert "OIAA-" not in page.text
    bad = web.get("/interventions/oc/received", params={"day": "20/11/2026", "lang": "en"})
    assert bad.status_code == 400 and "YYYY-MM-DD" in bad.text and 'href="#day"' in bad.text


def test_an_outsider_is_sent_to_sign_in(web, intervention):
    for path in (
        "/interventions/oc/received",
        f"/interventions/oc/received/{intervention}",
        "/interventions/oc/outages",
    ):
        reply = web.get(path, follow_redirects=False)
        assert reply.status_code == 303 and reply.headers["location"].startswith("/login?next=")


def test_a_technician_cannot_see_the_oc_pages(web, database):
    sign_in(web, database, "tom", ["technician"])
    assert web.get("/interventions/oc/received").status_code == 403


def test_an_operator_sends_the_m5_from_the_preview(web, database, intervention):
    token = sign_in(web, database, "olga", ["operator"])
    reply = web.post(
        f"/interventions/oc/received/{intervention}/m5", data={"csrf": token}, follow_redirects=False
    )
    assert reply.status_code == 303
    with database.session() as db:
        (message,) = db.scalars(select(OutboxMessage))
    assert [c["PTO"] for c in message.payload["Liste_Clients_HS"]] == ["FI-1234-0001"]
    again = web.post(f"/interventions/oc/received/{intervention}/m5?lang=en", data={"csrf": token})
    assert again.status_code == 409 and "already on its way" in again.text


def test_a_viewer_sees_the_preview_but_cannot_send(web, database, intervention):
    token = sign_in(web, database, "victor", ["viewer"])
    page = web.get(f"/interventions/oc/received/{intervention}")
    assert page.status_code == 200 and "send-m5" not in page.text
    reply = web.post(f"/interventions/oc/received/{intervention}/m5", data={"csrf": token})
    assert reply.status_code == 403
    with database.session() as db:
        assert db.scalar(select(OutboxMessage)) is None


def test_sending_without_the_csrf_token_is_refused(web, database, intervention):
    sign_in(web, database, "olga", ["operator"])
    reply = web.post(f"/interventions/oc/received/{intervention}/m5", data={})
    assert reply.status_code == 400
    with database.session() as db:
        assert db.scalar(select(OutboxMessage)) is None


def test_the_preview_says_flow_3_is_off(app, database, clock):
    apply_oc_config(database, clock(), m5={"enabled": False})
    received_id = add_received(database)
    with TestClient(app) as web:
        sign_in(web, database, "olga", ["operator"])
        page = web.get(f"/interventions/oc/received/{received_id}?lang=en")
    assert "does not use flow 3" in page.text and "Send M5 now" not in page.text


def test_an_upload_imports_and_reports_the_counts(web, database):
    token = sign_in(web, database, "olga", ["operator"])
    content = (HEADER + "2026-11-20T10:05:00+01:00,FI-12345-0001,FI-1234-5678,,,,,non\n").encode()
    reply = upload(web, token, content)
    assert reply.status_code == 303
    page = web.get(reply.headers["location"] + "&lang=fr")
    assert "1 coupure(s) importée(s), 0 doublon(s) ignoré(s)." in page.text and "FI-1234-5678" in page.text


def test_a_bad_upload_lists_every_line_and_field_and_imports_nothing(web, database):
    token = sign_in(web, database, "olga", ["operator"])
    content = (
        HEADER
        + "2026-11-20T10:05:00+01:00,FI-12345-0001,FI-1234-5678,,,,,non\n"
        + "yesterday,FI-12345-0001,FI-1234-5679,,,,,peut-être\n"
    ).encode()
    reply = upload(web, token, content)
    assert reply.status_code == 400
    assert "Ligne 3, champ cut_at" in reply.text and "Ligne 3, champ dying_gasp" in reply.text
    assert 'href="#file"' in reply.text and 'id="file"' in reply.text
    with database.session() as db:
        assert db.scalar(select(LineCut)) is None


def test_hostile_values_are_shown_as_text(web, database):
    token = sign_in(web, database, "olga", ["operator"])
    content = (
        HEADER + '2026-11-20T10:05:00+01:00,FI-12345-0001,=cmd|calc,"<script>x()</script>",,,,0\n'
    ).encode()
    assert upload(web, token, content).status_code == 303
    page = web.get("/interventions/oc/outages").text
    assert "=cmd|calc" in page and "<script>x()" not in page and "&lt;script&gt;x()&lt;/script&gt;" in page


def test_a_binary_upload_is_refused_with_a_message(web, database):
    token = sign_in(web, database, "olga", ["operator"])
    reply = upload(web, token, b"\x00\x01\x02PK\x03\x04")
    assert reply.status_code == 415
    assert "cuts.csv est de type application/octet-stream, qui n’est pas accepté ici" in reply.text


def test_a_viewer_cannot_upload(web, database):
    token = sign_in(web, database, "victor", ["viewer"])
    assert 'type="file"' not in web.get("/interventions/oc/outages").text
    reply = upload(web, token, (HEADER + "2026-11-20T10:05:00+01:00,FI-12345-0001,FI-1,,,,,0\n").encode())
    assert reply.status_code == 403


def test_an_unknown_intervention_is_not_found(web, database):
    sign_in(web, database, "olga", ["operator"])
    assert web.get("/interventions/oc/received/999999").status_code == 404
