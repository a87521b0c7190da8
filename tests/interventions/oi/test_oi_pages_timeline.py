"""The timeline of one intervention: every message in order, our answers, delivery attempts, M5, audit,
told in the reader's words (the technical detail kept apart for operators), an M4 held behind its M2
explained."""

from __future__ import annotations

import re

from tests.interventions.support import (
    fail_deliveries,
    m5_line,
    post_m1,
    post_m3,
    post_m5,
    set_pending_schedule,
)
from tests.support import sign_in
from tocsin.core.outbox import Worker

NBSP = "\u00a0"


def build(client, database, clock, do_headers, ocbb_headers) -> str:
    """M1 at 10:00, M2 attempts at 10:01, M3 at 10:40, M4 attempts at 10:41, M5 at 10:50 (Paris)."""
    ref = post_m1(client, do_headers, "TL-1")
    clock.advance(minutes=1)
    fail_deliveries(database, clock)
    clock.advance(minutes=39)
    post_m3(client, do_headers, "TL-1")
    clock.advance(minutes=1)
    fail_deliveries(database, clock)
    clock.advance(minutes=9)
    post_m5(client, ocbb_headers, ref, "OCBB", [m5_line("FI-1234-5678", "2026-11-20T10:30:00+01:00")])
    return ref


def test_timeline_shows_every_kind_in_order_with_attempts(client, database, clock, do_headers, ocbb_headers):
    ref = build(client, database, clock, do_headers, ocbb_headers)
    sign_in(client, database, "olive", ["viewer"])
    page = client.get(f"/interventions/oi/interventions/{ref}", params={"lang": "en"}).text
    markers = [
        f"20/11/2026,{NBSP}10:00:00 · M1 received from DOXX",
        "Our answer (R M1): We accepted it.",
        "Intervention created from the M1 of DOXX.",
        "10:00:00 · M2 to OCBB",
        "10:00:00 · M2 to OCCC",
        "10:40:00 · M3 received from DOXX",
        "Our answer (R M3): We accepted it.",
        "Intervention ended by the M3 of DOXX.",
        "10:40:00 · M4 to OCBB",
        "10:40:00 · M4 to OCCC",
        "10:50:00 · M5 received from OCBB",
        "Impacted customers reported by OCBB",
        "OCBB reported impacted lines (M5): 1.",
    ]
    positions = [page.index(marker) for marker in markers]
    assert positions == sorted(positions)
    assert "Times are in Paris time." in page
    assert page.count("Delivery attempts of M2 to") == 2 and page.count("Delivery attempts of M4 to") == 2
    attempt = "<tr><td>20/11/2026,{nbsp}{at}</td><td>failed</td><td>Sending failed: connection refused."
    assert page.count(attempt.format(nbsp=NBSP, at="10:01:00")) == 2
    assert page.count(attempt.format(nbsp=NBSP, at="10:41:00")) == 2


def test_technical_detail_is_kept_apart_for_operators(client, database, clock, do_headers, ocbb_headers):
    ref = build(client, database, clock, do_headers, ocbb_headers)
    sign_in(client, database, "olive", ["operator"])
    page = client.get(f"/interventions/oi/interventions/{ref}", params={"lang": "en"}).text
    details = re.findall(r'<details class="technical">.*?</details>', page, re.S)
    shown = re.sub(r"<details.*?</details>", "", page, flags=re.S)
    for technical in ("ConnectError", "interventions.created_from_M1", "interventions.ended", "Code_Reponse"):
        assert technical not in shown, technical
        assert any(technical in d for d in details), technical
    assert "Technical detail" in page


def test_impact_flags_are_shown_with_their_explanation(client, database, clock, do_headers, ocbb_headers):
    ref = build(client, database, clock, do_headers, ocbb_headers)
    sign_in(client, database, "olive", ["operator"])
    page = client.get(f"/interventions/oi/interventions/{ref}", params={"lang": "en"}).text
    assert "Line worked on" in page and "The DO worked on this very line, so it does not count." in page
    assert f"<td>FI-1234-5678</td><td>PBO-9</td><td>20/11/2026,{NBSP}10:30:00</td><td>no</td>" in page


def test_timeline_in_french(client, database, clock, do_headers, ocbb_headers):
    ref = build(client, database, clock, do_headers, ocbb_headers)
    sign_in(client, database, "olive", ["operator"])
    page = client.get(f"/interventions/oi/interventions/{ref}", params={"lang": "fr"}).text
    assert "M1 reçu de DOXX" in page and "Chronologie" in page and "en échec" in page
    assert "Tentatives d’envoi du M2 vers OCBB" in page and "Ligne travaillée" in page
    assert f"20/11/2026{NBSP}10:00:00 · M1 reçu de DOXX" in page and f"Heures{NBSP}: heure de Paris." in page
    assert f"Notre réponse (R M1){NBSP}: Nous l’avons accepté." in page
    assert "Intervention créée à partir du M1 de DOXX." in page
    assert "Intervention terminée par le M3 de DOXX." in page
    assert "Échec de l’envoi\u00a0: connexion refusée." in page


def test_an_m4_held_behind_its_m2_says_why_in_words(client, database, clock, do_headers):
    """The M2 failed once and waits for its retry: the M4 queued since waits behind it (one stream per
    OC and intervention is delivered in order), and the page says so with the M2's state."""
    ref = post_m1(client, do_headers, "HELD")
    clock.advance(minutes=1)
    set_pending_schedule(database, [600])
    worker = Worker(database, schedule=[600], name="test-worker", clock=clock, timeout=2)
    try:
        worker.run(stop_when_idle=True)
    finally:
        worker.close()
    clock.advance(minutes=2)
    post_m3(client, do_headers, "HELD")
    sign_in(client, database, "olive", ["operator"])
    url = f"/interventions/oi/interventions/{ref}"
    french = client.get(url, params={"lang": "fr"}).text
    held = f"M4 en attente{NBSP}: le M2 n’a pas encore été accepté par OCBB, qui doit le recevoir en premier."
    assert held in french and held.replace("OCBB", "OCCC") in french
    state = (
        f"Tentatives du M2 en échec jusqu’ici{NBSP}: 1{NBSP}; prochaine tentative le 20/11/2026{NBSP}10:11. "
        f"Dernier échec{NBSP}: connexion refusée."
    )
    assert french.count(state) == 2
    english = client.get(url, params={"lang": "en"}).text
    assert "M4 waiting: OCBB has not accepted the M2 yet, and must receive it first." in english
    state = f"Failed attempts of the M2 so far: 1; next attempt on 20/11/2026,{NBSP}10:11."
    assert f"{state} Last failure: connection refused." in english
    deliveries = client.get("/interventions/oi/deliveries", params={"lang": "en"}).text
    held_rows = re.findall(r'<tr id="waiting-\d+" role="row">.*?</tr>', deliveries, re.S)
    m4_rows = [r for r in held_rows if 'data-label="Message">M4<' in r]
    assert len(m4_rows) == 2
    assert all(
        "after the previous message of this intervention" in r and "Send now" not in r for r in m4_rows
    )
