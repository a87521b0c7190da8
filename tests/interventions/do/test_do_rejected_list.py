"""The list of declarations the OI rejected: code, description, deadline, a correction form; closed below."""

from __future__ import annotations

import re

from tests.interventions.support import declaration, make_declaration, outbox_messages, reject
from tests.support import sign_in
from tocsin.core.scheduler import run_job_now
from tocsin.interventions.do import service as declarations
from tocsin.interventions.jobs import JOBS

PAGE = "/interventions/do/rejected"


def test_a_rejection_is_listed_with_its_code_description_and_deadline(web, database, clock):
    ref = make_declaration(database, clock)
    reject(database, clock, description="PM inconnu : FI-12345-0001")
    sign_in(web, database, "olive", ["operator"])
    html = web.get(PAGE).text
    row = re.search(rf"<tr><th scope=\"row\"><a href=\"#fix-{ref}\">.*?</tr>", html, re.S).group(0)
    assert "PM inconnu : FI-12345-0001" in row and "<td>4</td>" in row
    assert "22/11/2026\u00a010:00" in row  # the deadline, in Paris time
    assert "Heures\u00a0: heure de Paris." in html
    assert f'action="/interventions/do/rejected/{ref}"' in html


def test_the_correction_form_resends_and_clears_the_rejection(web, database, clock):
    ref = make_declaration(database, clock)
    reject(database, clock)
    csrf = sign_in(web, database, "tina", ["technician"])
    form = {
        "csrf": csrf,
        "ref_do": ref,
        "pm": "FI-12345-0002",
        "started_at": "2026-11-20T10:05:00",
        "ended_at": "",
        "lines": "2",
        "nature_0": "2",
        "pbo_0": "PT0000001",
        "pto_0": "",
        "nature_1": "",
    }
    reply = web.post(f"{PAGE}/{ref}", data=form)
    assert reply.status_code == 200
    assert f"Déclaration {ref} corrigée et renvoyée." in reply.text
    resent = outbox_messages(database)[-1]
    assert (resent.kind, resent.payload["PM"], resent.payload["Debut_Inter"]) == (
        "M1",
        "FI-12345-0002",
        "2026-11-20T10:05:00+01:00",
    )
    assert resent.payload["Nature_PBO_PTO"] == [{"nature": 2, "PBO": "PT0000001"}]
    assert declaration(database, ref).m1_state == "queued"


def test_a_bad_correction_is_shown_naming_the_field(web, database, clock):
    ref = make_declaration(database, clock)
    reject(database, clock)
    csrf = sign_in(web, database, "olive", ["operator"])
    form = {"csrf": csrf, "ref_do": ref, "pm": "FI-00000-0000", "started_at": "", "lines": "0"}
    reply = web.post(f"{PAGE}/{ref}?lang=fr", data=form)
    assert reply.status_code == 400
    assert f'href="#{ref}-pm"' in reply.text
    assert "ce PM n’est pas dans notre référentiel" in reply.text
    assert len(outbox_messages(database)) == 1


def test_a_correction_after_the_deadline_is_refused_on_the_page(web, database, clock):
    ref = make_declaration(database, clock)
    reject(database, clock)
    clock.advance(hours=49)
    csrf = sign_in(web, database, "olive", ["operator"])
    reply = web.post(f"{PAGE}/{ref}", data={"csrf": csrf, "pm": "FI-12345-0002", "lines": "0"})
    assert reply.status_code == 409
    assert "le délai de correction de ce rejet est dépassé" in reply.text


def test_closed_rejections_are_listed_separately(web, database, clock):
    ref = make_declaration(database, clock)
    reject(database, clock)
    clock.advance(hours=49)
    job = next(j for j in JOBS if j.fn is declarations.close_expired_rejections)
    run_job_now(database, job, now=clock())
    sign_in(web, database, "olive", ["operator"])
    html = web.get(PAGE + "?lang=fr").text
    waiting, closed = html.split("Clôturées sans correction")
    assert "Aucune déclaration rejetée en attente." in waiting
    assert f'<th scope="row">{ref}</th>' in closed
