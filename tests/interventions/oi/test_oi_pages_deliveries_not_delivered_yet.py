"""The deliveries page also shows what is not delivered yet: each waiting message with its attempts,
its next attempt and its last error in words (connection refused, time-out, HTTP 5xx, token endpoint
failed…) in French and English, and a button that sends it now. The errors are real ones: a closed
port, a server that never answers, a partner answering 503 or 400, a token endpoint that is down."""

from __future__ import annotations

import re
import socket

import pytest
from sqlalchemy import select

from tests.receiver import partner
from tests.support import csrf_of, free_port, sign_in
from tocsin.core import outbox
from tocsin.core.outbox import OutboxMessage, Worker

PAGE = "/interventions/oi/deliveries"


@pytest.fixture
def silent_server():
    """A port that accepts connections and never answers."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(16)
        yield f"http://127.0.0.1:{server.getsockname()[1]}"


@pytest.fixture
def failures(database, clock, oi_config, silent_server):
    """One message per kind of failure, each attempted once by a real worker (a retry is left)."""
    closed = f"http://127.0.0.1:{free_port()}"
    with partner() as busy, partner() as picky:
        busy.default = (503, {"error": "busy"}, 0.0)
        picky.default = (400, {"Code_Reponse": 2, "Libelle_Reponse": "MAUVAIS_FORMAT"}, 0.0)
        targets = {
            "refused": (f"{closed}/v1/x", None),
            "silent": (f"{silent_server}/v1/x", None),
            "busy": (f"{busy.url}/v1/x", None),
            "no-token": (f"{busy.url}/v1/x", "cred-down"),
            "picky": (f"{picky.url}/v1/x", None),
        }
        with database.session() as db:
            outbox.set_credential(
                db, name="cred-down", token_url=f"{closed}/oauth/token", client_id="oiaa", client_secret="s"
            )
            ids = {
                name: outbox.enqueue(
                    db,
                    desk="interventions",
                    kind="M2",
                    partner="OCBB",
                    url=url,
                    payload={"name": name},
                    stream=f"interventions:OCBB:{name}",
                    subject=f"OIAA-{name}",
                    credential=credential,
                    schedule=[600],
                    now=clock(),
                )
                for name, (url, credential) in targets.items()
            }
        worker = Worker(database, schedule=[600], name="test", clock=clock, timeout=1.0)
        try:
            worker.run(stop_when_idle=True)
        finally:
            worker.close()
    return ids


def row(html: str, row_id: str) -> str:
    found = re.search(rf'<tr id="{row_id}".*?</tr>', html, re.S)
    assert found, f"no row {row_id}"
    return re.sub(r"[ \t\r\n]+", " ", found.group(0))  # no-break spaces kept: values must not wrap


def test_waiting_messages_show_attempts_next_attempt_and_the_error_in_words(client, database, failures):
    sign_in(client, database, "olive", ["operator"])
    page = client.get(PAGE, params={"lang": "en"}).text
    assert "Not delivered yet: 4. Failed or rejected: 1." in page
    expected = {
        "refused": "Sending failed: connection refused.",
        "silent": "Sending failed: no answer within the time limit.",
        "busy": "The partner's server failed (HTTP 503).",
        "no-token": "The partner's token endpoint gave us no access token: connection refused.",
    }
    for name, words in expected.items():
        waiting = row(page, f"waiting-{failures[name]}")
        assert words.replace("'", "&#39;") in waiting, (name, waiting)
        assert re.search(r'data-label="Attempts">1</td>', waiting)  # one attempt so far
        assert "20/11/2026,\u00a010:10:00" in waiting  # the retry, 10 minutes on, in Paris time
        assert "Send now" in waiting
    failed = row(page, f"message-{failures['picky']}")
    assert "The partner rejected the message (HTTP 400)." in failed and "MAUVAIS_FORMAT" in failed


def test_the_errors_read_in_french_too(client, database, failures):
    sign_in(client, database, "olive", ["operator"])
    page = client.get(PAGE, params={"lang": "fr"}).text
    assert "Pas encore remis\u00a0: 4. En échec ou rejetés\u00a0: 1." in page
    assert "Échec de l’envoi\u00a0: connexion refusée." in row(page, f"waiting-{failures['refused']}")
    assert "Échec de l’envoi\u00a0: pas de réponse dans le délai." in row(
        page, f"waiting-{failures['silent']}"
    )
    assert "Le serveur du partenaire est en erreur (HTTP 503)." in row(page, f"waiting-{failures['busy']}")
    no_token = row(page, f"waiting-{failures['no-token']}")
    assert "ne nous a pas donné de jeton\u00a0: connexion refusée." in no_token
    assert "Le partenaire a rejeté le message (HTTP 400)." in row(page, f"message-{failures['picky']}")


def test_send_now_brings_the_next_attempt_forward(client, database, clock, failures):
    sign_in(client, database, "olive", ["operator"])
    page = client.get(PAGE).text
    reply = client.post(
        f"{PAGE}/{failures['busy']}/retry", data={"csrf": csrf_of(page)}, follow_redirects=False
    )
    assert reply.status_code == 303 and reply.headers["location"].endswith("queued=1")
    with database.session() as db:
        waiting = select(OutboxMessage).where(OutboxMessage.status == "pending")
        due = {m.id for m in db.scalars(waiting) if m.next_attempt_at <= clock()}
        busy = db.get(OutboxMessage, failures["busy"])
        assert (busy.status, busy.attempts, busy.round_attempts) == ("pending", 1, 1)  # the round goes on
    assert due == {failures["busy"]}
    again = client.get(PAGE, params={"lang": "en"}).text
    assert "Send now" not in row(again, f"waiting-{failures['busy']}")
    assert ">due now<" in row(again, f"waiting-{failures['busy']}")


def test_a_message_out_on_delivery_is_not_sent_twice(client, database, clock, failures):
    worker = Worker(database, schedule=[600], name="busy-elsewhere", clock=clock)
    with database.session() as db:
        db.get(OutboxMessage, failures["refused"]).next_attempt_at = clock()
    try:
        [claimed] = worker.claim()
        sign_in(client, database, "olive", ["operator"])
        page = client.get(PAGE, params={"lang": "en"}).text
        assert "being sent" in row(page, f"waiting-{claimed.id}")
        assert "Send now" not in row(page, f"waiting-{claimed.id}")
        retry = f"{PAGE}/{claimed.id}/retry"
        reply = client.post(retry, data={"csrf": csrf_of(page)}, follow_redirects=False)
        assert reply.headers["location"].endswith("queued=0")
        with database.session() as db:
            assert db.get(OutboxMessage, claimed.id).lease_owner == worker.owner
    finally:
        worker.close()
