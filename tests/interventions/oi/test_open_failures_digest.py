"""The daily digest of open delivery failures: at 08:00 Paris time, claimed by one worker, to every
operator; nothing on a day with no open failure."""

from __future__ import annotations

from datetime import UTC, datetime

from tests.channels import deliver_all, notifications_of, parts_of, reachable_staff, smtp_server
from tests.interventions.support import fail_deliveries, post_m1
from tocsin.core.scheduler import run_due
from tocsin.interventions.oi.alerts import DIGEST

NEXT_MORNING = datetime(2026, 11, 21, 7, 0, tzinfo=UTC)  # 08:00 in Paris


def digests(database) -> list:
    return [n for n in notifications_of(database) if n.kind == "interventions.open_failures"]


def test_the_digest_goes_to_each_operator_at_eight_with_the_open_failures(
    client, database, clock, do_headers, settings, tmp_path
):
    reachable_staff(database, clock, username="olive", roles=["operator"], email="olive@oi.example.org")
    reachable_staff(database, clock, username="vera", roles=["viewer"], email="vera@oi.example.org")
    ref = post_m1(client, do_headers, "DIGEST-1")
    fail_deliveries(database, clock)

    assert run_due(database, [DIGEST], now=clock(), owner="w1") == []  # 10:00 in Paris: not the hour
    clock.at = NEXT_MORNING
    [summary] = run_due(database, [DIGEST], now=clock(), owner="w1")
    assert summary == "interventions.open_failures_digest: 2 open failure(s) told to 1 operator(s)"
    assert run_due(database, [DIGEST], now=clock(), owner="w2") == []  # claimed once

    [digest] = digests(database)
    assert (digest.address, digest.subject) == ("olive@oi.example.org", "2 envoi(s) en échec à traiter")
    with smtp_server(tmp_path) as mailbox:
        mail = {"smtp_url": mailbox.smtp_url(), "mail_from": "tocsin@oi.example.org"}
        deliver_all(database, clock, settings.model_copy(update=mail))
        [message] = [m for m in mailbox.messages if m["Subject"] == digest.subject]
    text = parts_of(message)["text/plain"]
    assert "- OCBB : 1\n- OCCC : 1" in text
    assert f"20/11/2026\u00a010:00 M2 → OCBB, intervention {ref}, échec" in text  # no break in a moment


def test_the_next_digest_is_due_the_next_morning(client, database, clock, do_headers):
    reachable_staff(database, clock, username="olive", roles=["operator"], email="olive@oi.example.org")
    post_m1(client, do_headers, "DIGEST-2")
    fail_deliveries(database, clock)
    clock.at = NEXT_MORNING
    run_due(database, [DIGEST], now=clock(), owner="w1")

    clock.advance(hours=23, minutes=59)
    assert run_due(database, [DIGEST], now=clock(), owner="w1") == []
    clock.advance(minutes=1)
    assert len(run_due(database, [DIGEST], now=clock(), owner="w1")) == 1
    assert len(digests(database)) == 2


def test_nothing_is_sent_when_nothing_is_open(client, database, clock):
    reachable_staff(database, clock, username="olive", roles=["operator"], email="olive@oi.example.org")
    clock.at = NEXT_MORNING

    [summary] = run_due(database, [DIGEST], now=clock(), owner="w1")

    assert summary == "interventions.open_failures_digest: nothing open"
    assert digests(database) == []
