"""The timeline of one intervention: every message in order, our answers, delivery attempts, M5, audit."""

from __future__ import annotations

from tests.interventions.support import fail_deliveries, m5_line, post_m1, post_m3, post_m5
from tests.support import sign_in


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
        "10:00:00 · M1 received from DOXX",
        "R M1 · our answer: <code>0 OK</code>",
        "interventions.created_from_M1",
        "10:00:00 · M2 to OCBB",
        "10:00:00 · M2 to OCCC",
        "10:40:00 · M3 received from DOXX",
        "R M3 · our answer: <code>0 OK</code>",
        "interventions.ended",
        "10:40:00 · M4 to OCBB",
        "10:40:00 · M4 to OCCC",
        "10:50:00 · M5 received from OCBB",
        "Impacted customers reported by OCBB",
        "interventions.impacts_received",
    ]
    positions = [page.index(marker) for marker in markers]
    assert positions == sorted(positions)
    assert page.count("Delivery attempts of M2 to") == 2 and page.count("Delivery attempts of M4 to") == 2
    assert page.count("<tr><td>2026-11-20 10:01:00</td><td>—</td><td>failed</td><td>ConnectError") == 2
    assert page.count("<tr><td>2026-11-20 10:41:00</td><td>—</td><td>failed</td><td>ConnectError") == 2


def test_impact_flags_are_shown_with_their_explanation(client, database, clock, do_headers, ocbb_headers):
    ref = build(client, database, clock, do_headers, ocbb_headers)
    sign_in(client, database, "olive", ["operator"])
    page = client.get(f"/interventions/oi/interventions/{ref}", params={"lang": "en"}).text
    assert "Line worked on" in page and "The DO worked on this very line, so it does not count." in page
    assert "<td>FI-1234-5678</td><td>PBO-9</td><td>2026-11-20 10:30:00</td><td>no</td>" in page


def test_timeline_in_french(client, database, clock, do_headers, ocbb_headers):
    ref = build(client, database, clock, do_headers, ocbb_headers)
    sign_in(client, database, "olive", ["operator"])
    page = client.get(f"/interventions/oi/interventions/{ref}", params={"lang": "fr"}).text
    assert "M1 reçu de DOXX" in page and "Chronologie" in page and "en échec" in page
    assert "Tentatives d’envoi du M2 vers OCBB" in page and "Ligne travaillée" in page


def test_unknown_reference_is_not_found(client, database):
    sign_in(client, database, "olive", ["operator"])
    page = client.get("/interventions/oi/interventions/OIAA-20261120-NOPE", params={"lang": "en"})
    assert page.status_code == 404 and "No intervention has this reference." in page.text


def test_outsider_and_technician_cannot_read_a_timeline(client, database, do_headers):
    ref = post_m1(client, do_headers, "TL-2")
    url = f"/interventions/oi/interventions/{ref}"
    assert client.get(url, follow_redirects=False).headers["location"].startswith("/login")
    sign_in(client, database, "tech", ["technician"])
    assert client.get(url).status_code == 403
