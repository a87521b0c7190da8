"""What the OI's open pages are told, in the transaction of the change: an intervention created,
modified or completed, impacts reported; each delivery attempt of its messages; nothing for a
duplicate or a refused message."""

from __future__ import annotations

from tests.interventions.support import fail_deliveries, m1, m5_line, post_m1, post_m3, post_m5
from tocsin.core import live


def told(database) -> list[tuple[str, dict]]:
    with database.session() as db:
        return [(e.topic, e.data) for e in live.events_after(db, after=0)]


def test_interventions_and_their_deliveries_are_told(client, database, clock, do_headers, ocbb_headers):
    ref = post_m1(client, do_headers, "LIVE-1")
    post_m1(client, do_headers, "LIVE-1")  # a duplicate changes nothing
    post_m3(client, do_headers, "LIVE-1")
    post_m5(client, ocbb_headers, ref, "OCBB", [m5_line("FI-7", "2026-11-20T10:30:00+01:00")])
    assert [(t, d) for t, d in told(database) if t == "interventions.oi"] == [
        ("interventions.oi", {"ref_oi": ref, "change": "created"}),
        ("interventions.oi", {"ref_oi": ref, "change": "completed"}),
        ("interventions.oi", {"ref_oi": ref, "change": "impacts"}),
    ]
    queued = [d for t, d in told(database) if t == "outbox"]
    assert queued == [{"desk": "interventions"}] * 2  # one per transaction that queued M2s, then M4s
    before = len(told(database))
    fail_deliveries(database, clock)
    attempts = [d for t, d in told(database)[before:] if t == "outbox.interventions"]
    assert len(attempts) == 4  # M2 and M4 to OCBB and OCCC, each attempted once


def test_a_refused_message_tells_nothing(client, database, do_headers):
    reply = client.post("/v1/intervention_DO", json=m1("LIVE-BAD", PM="FI-99999-9999"), headers=do_headers)
    assert reply.json()["Code_Reponse"] == 4
    assert told(database) == []
