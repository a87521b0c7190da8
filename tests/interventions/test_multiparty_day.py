"""A day of interventions between four real deployments on loopback: OIAA (OI), OCBB and OCCC (OC), DOXX (DO).

Each party is its own ``tocsin serve`` and ``tocsin worker`` with its own SQLite file, set up with the
real CLI (``migrate``, ``interventions load-config``, ``user``). The day covers every rule of the OI
(plain, duplicate and modified M1, M3 before M1, KOs then corrected re-sends, grouped triplets, PMs
with one and two OCs), M5 from the OCs, an OC that is down until the OI's retries reach it, and a
worker killed (SIGKILL) in the middle of a fan-out burst. Every check reads the parties' databases.
The processes always use SQLite files, whatever TOCSIN_TEST_DATABASE says: the point is the parties.
"""

from __future__ import annotations

import os
import signal
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from tests.interventions.multiparty import Party, StaffBrowser, wait_until
from tocsin.core.outbox import OutboxMessage
from tocsin.interventions.models import (
    Declaration,
    ImpactReport,
    InboundMessage,
    Intervention,
    ReceivedIntervention,
    Rejection,
)

pytestmark = pytest.mark.slow

PM1, PM2, UNKNOWN_PM = "FI-11111-0001", "FI-22222-0001", "FI-99999-0001"
OCS_AT = {PM1: ("OCBB",), PM2: ("OCBB", "OCCC")}
SET_UP = {
    "OIAA": ("oi.yaml", {}),
    "OCBB": ("ocbb.yaml", {"olga": "operator"}),
    "OCCC": ("occc.yaml", {"oscar": "operator"}),
    "DOXX": ("do.yaml", {"tina": "technician"}),
}
BURST = 50


@pytest.fixture
def parties(tmp_path: Path, clamd) -> Iterator[dict[str, Party]]:
    """The four parties set up; OIAA, OCBB and DOXX serving with their workers, OCCC still down; each
    scans its uploads with the test clamd."""
    made = {code: Party(code, tmp_path, clamd=clamd.address) for code in SET_UP}
    urls = {"OI": made["OIAA"].url, "OCBB": made["OCBB"].url, "OCCC": made["OCCC"].url}
    try:
        with ThreadPoolExecutor(len(made)) as pool:
            list(pool.map(lambda code: made[code].set_up(SET_UP[code][0], urls, SET_UP[code][1]), made))
        for code in ("OIAA", "OCBB", "DOXX"):
            made[code].start("serve", wait=False)
            made[code].start("worker")
        for code in ("OIAA", "OCBB", "DOXX"):
            made[code].wait_serving()
        yield made
    finally:
        for party in made.values():
            party.stop()


class Day:
    """The test's clock and the DO's direct line to the OI (for what the technician tool cannot send)."""

    def __init__(self, oi: Party) -> None:
        self.oi = oi
        self.now = datetime.now(UTC).replace(microsecond=0)
        self.headers = oi.token("doxx", "doxx-secret-0001")

    def at(self, minutes: int) -> str:
        return (self.now + timedelta(minutes=minutes)).isoformat()

    def send(
        self, ref: str, pm: str, start: int, end: int | None = None, natures: Any = None
    ) -> httpx.Response:
        """POST an M1 (or an M3 when ``end`` is given) to the OI as DOXX."""
        body = {
            "Code_DO": "DOXX",
            "Code_OI": "OIAA",
            "Ref_Interv_DO": ref,
            "PM": pm,
            "Nature_PBO_PTO": natures or [{"nature": 1, "PBO": "PT0000001", "PTO": "FI-1234-0009"}],
            "Debut_Inter": self.at(start),
        }
        if end is not None:
            body["Fin_Inter"] = self.at(end)
        return httpx.post(f"{self.oi.url}/v1/intervention_DO", json=body, headers=self.headers, timeout=10)

    def ok(self, *args: Any, **kwargs: Any) -> str:
        reply = self.send(*args, **kwargs)
        assert reply.status_code == 200 and reply.json()["Code_Reponse"] == 0, reply.text
        return reply.json()["Ref_Interv_OI"]

    def ko(self, status: int, code: int, *args: Any, **kwargs: Any) -> None:
        reply = self.send(*args, **kwargs)
        assert (reply.status_code, reply.json()["Code_Reponse"]) == (status, code), reply.text


def declare_with_tool(technician: StaffBrowser, csrf: str, day: Day, pm: str) -> str:
    """Start then End on the DO's technician API (JSON, staff session and CSRF); returns Ref_Interv_DO."""
    headers = {"X-CSRF-Token": csrf}
    natures = [{"nature": 1, "PBO": "PT0000002"}]
    started = technician.http.post(
        "/api/interventions/do/start",
        json={"pm": pm, "natures": natures, "started_at": day.at(-10)},
        headers=headers,
    )
    assert started.status_code == 200, started.text
    ref_do = started.json()["ref_do"]
    ended = technician.http.post(
        "/api/interventions/do/end",
        json={"ref_do": ref_do, "ended_at": day.at(-2), "natures": natures},
        headers=headers,
    )
    assert ended.status_code == 200, ended.text
    return ref_do


def outbox(party: Party, *kinds: str) -> list[OutboxMessage]:
    with party.read() as db:
        query = select(OutboxMessage)
        if kinds:
            query = query.where(OutboxMessage.kind.in_(kinds))
        return list(db.scalars(query))


def all_delivered(party: Party) -> bool:
    messages = outbox(party)
    return bool(messages) and all(m.status == "delivered" for m in messages)


def interventions(oi: Party) -> dict[str, Intervention]:
    """The OI's interventions by Ref_Interv_DO."""
    with oi.read() as db:
        return {i.ref_do: i for i in db.scalars(select(Intervention))}


def received(oc: Party) -> dict[str, ReceivedIntervention]:
    with oc.read() as db:
        return {r.ref_oi: r for r in db.scalars(select(ReceivedIntervention))}


def created_m2(oc: Party) -> Counter[str]:
    """How many times the OC stored a new intervention, by Ref_Interv_OI (must be once each)."""
    with oc.read() as db:
        query = select(InboundMessage.subject).where(
            InboundMessage.kind == "M2", InboundMessage.outcome == "created"
        )
        return Counter(db.scalars(query))


def test_a_day_of_interventions_reaches_every_oc_once(parties: dict[str, Party]) -> None:
    """Every rule, an OC down then up, a worker killed mid-burst: each OC stores each intervention once."""
    oi, ocbb, occc, do = (parties[code] for code in ("OIAA", "OCBB", "OCCC", "DOXX"))
    day = Day(oi)
    technician = do.staff("tina")
    tool = {
        pm: declare_with_tool(technician, technician.csrf("/interventions/do/technician"), day, pm)
        for pm in (PM1, PM2)
    }

    dup = [day.ok("DUP-1", PM2, -30), day.ok("DUP-1", PM2, -30)]
    mod = [day.ok("MOD-1", PM2, -40), day.ok("MOD-1", PM2, -35)]
    late = [day.ok("LATE-1", PM2, -50, -20), day.ok("LATE-1", PM2, -45)]
    day.ko(404, 4, "KO-PM", UNKNOWN_PM, -15)
    day.ko(400, 2, "KO-NAT", PM2, -15, natures=[{"nature": 3, "PBO": "PT0000003"}])
    day.ko(400, 2, "KO-END", PM2, -15, -16)
    day.ok("KO-PM", PM1, -15)
    day.ok("KO-NAT", PM2, -15, natures=[{"nature": 4, "PBO": "PT0000003"}])
    day.ok("KO-END", PM2, -15, -5)
    triplets = [{"nature": 1, "PBO": f"PT000010{n}", "PTO": f"FI-1234-010{n}"} for n in range(3)]
    day.ok("GROUP-1", PM2, -25, natures=triplets)
    day.ok("GROUP-1", PM2, -25, -3, natures=[{**t, "nature": 3} for t in triplets])
    assert dup[0] == dup[1] and mod[0] == mod[1] and late[0] == late[1]

    wait_until(
        lambda: [m for m in outbox(oi) if m.partner == "OCCC" and m.attempts > 0],
        timeout=30,
        what="a failed attempt to deliver to OCCC, which is down",
    )
    occc.start("serve")
    occc.start("worker")
    wait_until(lambda: all_delivered(oi), timeout=60, what="every OI message delivered after OCCC came up")
    wait_until(lambda: all_delivered(do), timeout=30, what="every DO message answered")

    known = interventions(oi)
    check_oi_rules(oi, known, tool, mod_start=day.at(-35), late_start=day.at(-50))
    for oc in (ocbb, occc):
        check_oc_received(oc, known)
    check_do_declarations(do, known, tool)

    send_m5s(ocbb, occc, known[tool[PM2]], known[tool[PM1]], day)
    check_impact_reports(oi, known[tool[PM2]], known[tool[PM1]])

    burst = crash_the_oi_worker_in_a_burst(oi, day)
    wait_until(lambda: all_delivered(oi), timeout=150, what="the burst delivered by the new OI worker")
    check_burst(oi, ocbb, occc, burst)
    technician.close()


def check_oi_rules(oi: Party, known: dict[str, Intervention], tool: dict[str, str], **starts: str) -> None:
    """The OI's final state for each rule of the day."""
    assert set(known) == {*tool.values(), "DUP-1", "MOD-1", "LATE-1", "KO-PM", "KO-NAT", "KO-END", "GROUP-1"}
    for ref_do in tool.values():
        assert known[ref_do].created_from == "M1" and known[ref_do].fin is not None
    assert "modified" in known["MOD-1"].flags
    assert known["MOD-1"].debut.isoformat() == starts["mod_start"]
    late = known["LATE-1"]
    assert late.created_from == "M3" and {"m3_before_m1", "m1_after_m3"} <= set(late.flags)
    assert late.debut.isoformat() == starts["late_start"], "a late M1 must not erase M3's data"
    assert known["KO-PM"].pm == PM1 and known["KO-NAT"].natures[0]["nature"] == 4
    assert known["KO-END"].fin is not None
    assert [n["nature"] for n in known["GROUP-1"].natures] == [3, 3, 3]
    with oi.read() as db:
        outcomes = Counter(db.execute(select(InboundMessage.subject, InboundMessage.outcome)).all())
        rejections = sorted(db.execute(select(Rejection.http_status, Rejection.code)).all())
    ref = {ref_do: i.ref_oi for ref_do, i in known.items()}
    assert outcomes[(ref["DUP-1"], "duplicate")] == 1 and outcomes[(ref["MOD-1"], "modified")] == 1
    assert outcomes[(ref["LATE-1"], "ignored")] == 1
    for ref_do in ("KO-PM", "KO-NAT", "KO-END"):
        assert outcomes[(ref[ref_do], "created")] == 1, "a corrected re-send is new, not a duplicate"
    assert rejections == [(400, 2), (400, 2), (404, 4)]
    sent = Counter((m.subject, m.partner, m.kind) for m in outbox(oi))
    assert sent[(ref["DUP-1"], "OCBB", "M2")] == 1 and sent[(ref["MOD-1"], "OCCC", "M2")] == 2
    assert sent[(ref["LATE-1"], "OCCC", "M4")] == 1 and sent[(ref["LATE-1"], "OCCC", "M2")] == 1
    assert all(m.status == "delivered" for m in outbox(oi))


def check_oc_received(oc: Party, known: dict[str, Intervention]) -> None:
    """Each OC present at a PM holds each intervention once, with the OI's start and end."""
    got = received(oc)
    expected = {i.ref_oi: i for i in known.values() if oc.code in OCS_AT[i.pm]}
    assert set(got) == set(expected), oc.code
    for ref_oi, intervention in expected.items():
        assert (got[ref_oi].debut, got[ref_oi].fin) == (intervention.debut, intervention.fin), ref_oi
        assert got[ref_oi].pm == intervention.pm
    assert got[known["GROUP-1"].ref_oi].pbos == ["PT0000100", "PT0000101", "PT0000102"]
    assert set(created_m2(oc).values()) == {1}


def check_do_declarations(do: Party, known: dict[str, Intervention], tool: dict[str, str]) -> None:
    """The DO's declarations were acknowledged, with the OI's reference."""
    with do.read() as db:
        declarations = {d.ref_do: d for d in db.scalars(select(Declaration))}
    for ref_do in tool.values():
        declaration = declarations[ref_do]
        assert (declaration.m1_state, declaration.m3_state) == ("ok", "ok")
        assert declaration.ref_oi == known[ref_do].ref_oi


def send_m5s(ocbb: Party, occc: Party, two_ocs: Intervention, one_oc: Intervention, day: Day) -> None:
    """OCBB reports one customer down (a power cut does not count) and an empty M5; OCCC an empty one."""
    olga = ocbb.staff("olga")
    cuts = [
        {"cut_at": day.at(-6), "pm": PM2, "pto": "FI-1234-0001", "pbo": "PT0000002", "dying_gasp": False},
        {"cut_at": day.at(-5), "pm": PM2, "pto": "FI-1234-0002", "dying_gasp": True},
    ]
    reply = olga.http.post(
        "/api/interventions/outages",
        json=cuts,
        headers={"X-CSRF-Token": olga.csrf("/interventions/oc/outages")},
    )
    assert reply.status_code == 200 and reply.json()["imported"] == 2, reply.text
    oscar = occc.staff("oscar")
    for staff, oc, intervention in ((olga, ocbb, two_ocs), (olga, ocbb, one_oc), (oscar, occc, two_ocs)):
        row = received(oc)[intervention.ref_oi]
        page = f"/interventions/oc/received/{row.id}"
        sent = staff.http.post(f"{page}/m5", data={"csrf": staff.csrf(page)})
        assert sent.status_code == 303, sent.text
    for oc in (ocbb, occc):
        wait_until(
            lambda oc=oc: {r.m5_state for r in received(oc).values() if r.m5_state != "none"} == {"ok"},
            timeout=60,
            what=f"{oc.code}'s M5 accepted by the OI",
        )
    olga.close()
    oscar.close()


def check_impact_reports(oi: Party, two_ocs: Intervention, one_oc: Intervention) -> None:
    with oi.read() as db:
        reports = {(r.intervention_id, r.oc_code): r for r in db.scalars(select(ImpactReport))}
        lines = {key: [(i.pto, i.counted) for i in r.impacts] for key, r in reports.items()}
    assert set(reports) == {(two_ocs.id, "OCBB"), (two_ocs.id, "OCCC"), (one_oc.id, "OCBB")}
    assert lines[(two_ocs.id, "OCBB")] == [("FI-1234-0001", True)]
    assert lines[(two_ocs.id, "OCCC")] == [] and lines[(one_oc.id, "OCBB")] == []


def crash_the_oi_worker_in_a_burst(oi: Party, day: Day) -> set[str]:
    """50 M1s on the two-OC PM; the OI worker is killed with SIGKILL mid fan-out, a new one takes over."""
    worker = oi.processes["worker"]
    os.killpg(worker.pid, signal.SIGSTOP)
    burst = {day.ok(f"BURST-{n:02d}", PM2, -1) for n in range(BURST)}
    os.killpg(worker.pid, signal.SIGCONT)

    def progress() -> int:
        return sum(m.status == "delivered" for m in outbox(oi) if m.subject in burst)

    delivered = wait_until(progress, timeout=60, what="the burst's first deliveries", every=0.02)
    oi.kill("worker", signal.SIGKILL)
    assert delivered < 2 * BURST, "the worker must die before the burst is over"
    oi.start("worker")
    return burst


def check_burst(oi: Party, ocbb: Party, occc: Party, burst: set[str]) -> None:
    """Every M2 of the burst reached each OC, and each OC stored each intervention once."""
    messages = [m for m in outbox(oi) if m.subject in burst]
    assert Counter((m.partner, m.kind) for m in messages) == {("OCBB", "M2"): BURST, ("OCCC", "M2"): BURST}
    assert {m.status for m in messages} == {"delivered"}
    for oc in (ocbb, occc):
        assert burst <= set(received(oc))
        created = created_m2(oc)
        assert all(created[ref] == 1 for ref in burst), oc.code
        with oc.read() as db:
            stored = db.scalar(select(func.count()).select_from(ReceivedIntervention))
        assert stored == len(received(oc))
