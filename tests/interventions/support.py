"""Test support for the interventions desk: each role's configuration and data, protocol messages built
and posted through /v1, readers of what the desk stored or queued, and the outbox driven by hand.

Fixtures built on these live in ``tests/interventions/conftest.py``; staff sign-in and anything every desk
needs live in ``tests/support.py``.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import jsonschema
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update

from tests.openapi_check import check_response, spec
from tocsin.core.db import Database
from tocsin.core.orgs import Scope
from tocsin.core.outbox import PENDING, Answer, OutboxMessage, Worker
from tocsin.interventions.config import apply_config, parse_config
from tocsin.interventions.do import service as declarations
from tocsin.interventions.models import (
    Declaration,
    Impact,
    ImpactReport,
    InboundMessage,
    Intervention,
    LineCut,
    ReceivedIntervention,
    Rejection,
)

SECRET = "s3cret-s3cret-s3cret"

# ---- OI: we are OIAA, partners post M1/M3 (DO) and M5 (OC) to us ----

OI_CONFIG: dict[str, Any] = {
    "self": {"code": "OIAA", "roles": ["OI"]},
    "timezone": "Europe/Paris",
    "partners": [
        {
            "code": "OCBB",
            "roles": ["OC", "DO"],
            "url": "http://127.0.0.1:9/v1",
            "client_id": "ocbb",
            "client_secret": SECRET,
        },
        {
            "code": "OCCC",
            "roles": ["OC"],
            "url": "http://127.0.0.1:9/v1",
            "client_id": "occc",
            "client_secret": SECRET,
        },
        {"code": "DOXX", "roles": ["DO"], "client_id": "doxx", "client_secret": SECRET},
    ],
    "pms": [
        {"ref": "FI-12345-0001", "ocs": ["OCBB", "OCCC"]},
        {"ref": "FI-12345-0002", "ocs": ["OCCC"]},
        {"ref": "FI-12345-0003", "ocs": []},
    ],
}

EVERYWHERE = Scope(everywhere=True)  # a global role's view: every team's declarations


class CheckedClient(TestClient):
    """A test client that checks every /v1 answer against the official OpenAPI."""

    def request(self, method: str, url: str, *args: Any, **kwargs: Any):  # type: ignore[override]
        response = super().request(method, url, *args, **kwargs)
        path = str(url).split("?")[0]
        if path.startswith("/v1/"):
            body = (
                response.json()
                if response.headers.get("content-type", "").startswith("application/json")
                else None
            )
            check_response(method, path, response.status_code, body)
        return response


def token_for(client: TestClient, client_id: str, secret: str = SECRET, scope: str | None = None) -> str:
    """A partner's access token from our token endpoint."""
    data = {"grant_type": "client_credentials"}
    if scope:
        data["scope"] = scope
    reply = client.post("/oauth/token", data=data, auth=(client_id, secret))
    assert reply.status_code == 200, reply.text
    return reply.json()["access_token"]


def m1(ref: str = "DO-REF-1", **changes: Any) -> dict[str, Any]:
    """The body of an M1 from DOXX (a field changed to None is left out)."""
    body = {
        "Code_DO": "DOXX",
        "Code_OI": "OIAA",
        "Ref_Interv_DO": ref,
        "PM": "FI-12345-0001",
        "Nature_PBO_PTO": [{"nature": 1, "PBO": "PT0012345", "PTO": "FI-1234-5678"}],
        "Debut_Inter": "2026-11-20T10:00:00+01:00",
    }
    body.update(changes)
    return {k: v for k, v in body.items() if v is not None}


def m3(ref: str = "DO-REF-1", **changes: Any) -> dict[str, Any]:
    """The body of an M3 (an M1 with its end) from DOXX."""
    return m1(ref, **{"Fin_Inter": "2026-11-20T11:30:00+01:00", **changes})


def post_m1(client: TestClient, headers: dict[str, str], ref: str, **changes: Any) -> str:
    """POST an M1 and return the OI reference."""
    reply = client.post("/v1/intervention_DO", json=m1(ref, **changes), headers=headers)
    assert reply.status_code == 200, reply.text
    return reply.json()["Ref_Interv_OI"]


def post_m3(client: TestClient, headers: dict[str, str], ref: str, **changes: Any) -> str:
    """POST an M3 and return the OI reference."""
    reply = client.post("/v1/intervention_DO", json=m3(ref, **changes), headers=headers)
    assert reply.status_code == 200, reply.text
    return reply.json()["Ref_Interv_OI"]


def post_m5(client: TestClient, headers: dict[str, str], ref_oi: str, oc: str, lines: list[dict]) -> None:
    """POST an M5 from ``oc`` listing ``lines`` as impacted customers."""
    body: dict[str, Any] = {"Code_OC_impacte": oc, "Ref_Interv_OI": ref_oi}
    if lines:
        body["Liste_Clients_HS"] = lines
    reply = client.post("/v1/client_HS_OC_Par_Inter", json=body, headers=headers)
    assert reply.status_code == 200, reply.text


def m5_line(pto: str, cut_at: str) -> dict[str, str]:
    """One impacted customer line of an M5."""
    return {
        "PTO": pto,
        "PBO": "PBO-9",
        "Tube": "inconnu",
        "Fibre": "inconnu",
        "Position_PM_Module_OI": "inconnu",
        "HMS_Coupure": cut_at,
    }


def utc(day: int, hour: int, minute: int = 0) -> datetime:
    """An instant in November 2026, in UTC."""
    return datetime(2026, 11, day, hour, minute, tzinfo=UTC)


def add_intervention(db, ref: str, *, do: str, pm: str, debut: datetime, delay_min: int | None, impacts=()):
    """One intervention whose M1 came ``delay_min`` minutes after HD, with (counted,) impacts."""
    item = Intervention(
        ref_oi=ref,
        code_do=do,
        ref_do=ref,
        pm=pm,
        natures=[],
        debut=debut,
        created_from="M1",
        m1_at=None if delay_min is None else debut + timedelta(minutes=delay_min),
        flags=[],
        created_at=debut,
        updated_at=debut,
    )
    db.add(item)
    db.flush()
    if impacts:
        report = ImpactReport(intervention_id=item.id, oc_code="OCBB", received_at=debut, flags=[])
        report.impacts = [
            Impact(pto=f"P{n}", pbo="-", tube="-", fibre="-", position="-", cut_at=debut, counted=c, flags=[])
            for n, c in enumerate(impacts)
        ]
        db.add(report)


# ---- OC: we are OCBB, OIAA announces interventions (M2/M4), we answer with M5 ----

PM = "FI-12345-0001"
OTHER_PM = "FI-12345-0002"
REF = "OIAA-20261120-0001"
DEBUT = datetime.fromisoformat("2026-11-20T10:00:00+01:00")
FIN = datetime.fromisoformat("2026-11-20T11:30:00+01:00")
OUTAGE_CSV_HEADER = "cut_at,pm,pto,pbo,tube,fibre,position,dying_gasp\n"
GOOD_OUTAGE_CSV = (
    OUTAGE_CSV_HEADER
    + "2026-11-20T10:05:00+01:00,FI-12345-0001,FI-1234-5678,PT0012345,T1,F3,M2-P14,false\n"
    + "2026-11-20T10:06:00+01:00,FI-12345-0001,FI-1234-5679,,,,,oui\n"
)


def oc_config(**changes: Any) -> dict[str, Any]:
    """Our side is OCBB (an OC); OIAA is the OI that announces interventions to us."""
    config: dict[str, Any] = {
        "self": {"code": "OCBB", "roles": ["OC"]},
        "timezone": "Europe/Paris",
        "partners": [
            {
                "code": "OIAA",
                "roles": ["OI"],
                "url": "http://127.0.0.1:9/v1",
                "client_id": "oiaa",
                "client_secret": SECRET,
            }
        ],
        "pms": [{"ref": PM, "ocs": ["OCBB"]}, {"ref": OTHER_PM, "ocs": ["OCBB"]}],
    }
    config.update(changes)
    return config


def apply_oc_config(database: Database, now: datetime, **changes: Any) -> None:
    with database.session() as db:
        apply_config(db, parse_config(oc_config(**changes)), now=now)


def add_received(
    database: Database,
    *,
    ref: str = REF,
    pm: str = PM,
    debut: datetime = DEBUT,
    fin: datetime | None = FIN,
    m5_state: str = "none",
    m5_sent_at: datetime | None = None,
) -> int:
    """An intervention announced by OIAA (M2, and M4 when it has an end); returns its id."""
    with database.session() as db:
        row = ReceivedIntervention(
            code_oi="OIAA",
            ref_oi=ref,
            pm=pm,
            pbos=[],
            debut=debut,
            fin=fin,
            m2_at=debut,
            m4_at=fin,
            digest=ref,
            receipts=1,
            m5_state=m5_state,
            m5_sent_at=m5_sent_at,
        )
        db.add(row)
        db.flush()
        return row.id


def add_cut(
    database: Database,
    at: str,
    pto: str,
    *,
    pm: str = PM,
    dying_gasp: bool = False,
    pbo: str = "PT0012345",
) -> None:
    """One line cut in the outage feed."""
    with database.session() as db:
        db.add(
            LineCut(
                cut_at=datetime.fromisoformat(at),
                pm=pm,
                pto=pto,
                pbo=pbo,
                tube="T1",
                fibre="F3",
                position="M2-P14",
                dying_gasp=dying_gasp,
                source="test",
                imported_at=datetime.fromisoformat(at),
            )
        )


# ---- DO: we are DOXX, our technicians' declarations go to OIAA as M1/M3 ----

START = "2026-11-20T10:00:00+01:00"
END = "2026-11-20T11:30:00+01:00"


def do_config(oi_url: str = "http://127.0.0.1:9") -> dict[str, Any]:
    """DOXX dispatching technicians to PMs of OIAA (the last PM has no OI in our referential)."""
    return {
        "self": {"code": "DOXX", "roles": ["DO"]},
        "timezone": "Europe/Paris",
        "partners": [
            {
                "code": "OIAA",
                "roles": ["OI"],
                "url": f"{oi_url}/v1",
                "outbound": {
                    "token_url": f"{oi_url}/oauth/token",
                    "client_id": "doxx",
                    "client_secret": SECRET,
                },
            }
        ],
        "pms": [
            {"ref": "FI-12345-0001", "oi": "OIAA", "label": "Rue des Lilas"},
            {"ref": "FI-12345-0002", "oi": "OIAA"},
            {"ref": "FI-99999-0001"},
        ],
    }


def nature_lines(
    *natures: int, pbo: str | None = "PT0012345", pto: str | None = None
) -> list[dict[str, Any]]:
    """The Nature_PBO_PTO lines of a declaration, one per nature."""
    result = []
    for nature in natures:
        line: dict[str, Any] = {"nature": nature}
        if pbo:
            line["PBO"] = pbo
        if pto:
            line["PTO"] = pto
        result.append(line)
    return result


def make_declaration(
    database, clock, *, with_end: bool = False, technician: str = "tina", team: int | None = None
) -> str:
    """A technician (tina, of no team unless given) starts work on FI-12345-0001 (and ends it,
    ``with_end``) through the DO's rules; returns the DO reference."""
    with database.session() as db:
        made = declarations.start(
            db=db,
            pm="FI-12345-0001",
            natures=nature_lines(1),
            started_at=START,
            technician=technician,
            team=team,
            now=clock(),
        )
        if with_end:
            declarations.end(db=db, ref_do=made.ref_do, ended_at=END, natures=nature_lines(1), now=clock())
    return made.ref_do


def declaration(database, ref_do: str) -> Declaration:
    with database.session() as db:
        found = db.scalar(select(Declaration).where(Declaration.ref_do == ref_do))
    assert found is not None, f"no declaration {ref_do}"
    return found


def check_request_body(body: dict[str, Any]) -> None:
    """Raise if ``body`` breaks the official intervention_DO schema (formats included)."""
    document = spec()
    schema = {**document["components"]["schemas"]["intervention_DO"], "components": document["components"]}
    jsonschema.validate(body, schema, format_checker=jsonschema.FormatChecker())


def answer(
    database, clock, status: int | None, body: dict | None, *, schedule: tuple[int, ...] = (60,)
) -> None:
    """Claim the next due message and record this answer, as the worker does after its HTTP call
    (``schedule``: the retries the message has left)."""
    set_pending_schedule(database, list(schedule))
    worker = Worker(database, schedule=list(schedule), name="test", clock=clock)
    try:
        [message] = worker.claim()
        text = json.dumps(body) if body is not None else None
        worker.record(message, Answer(status, text, None if status else "ConnectError: refused", 3))
    finally:
        worker.close()


def reject(database, clock, code: int = 4, description: str = "PM inconnu : FI-12345-0001") -> None:
    """The OI refuses the next due message with this answer code."""
    labels = {1: "CHAMPS_NON_RENSEIGNE", 2: "MAUVAIS_FORMAT", 3: "CODE_OI_INCONNU", 4: "PM_INCONNU"}
    status = 400 if code < 3 else 404
    answer(
        database,
        clock,
        status,
        {"Code_Reponse": code, "Libelle_Reponse": labels[code], "Description_Reponse": description},
    )


# ---- What the desk stored or queued, and the outbox driven by hand ----


def interventions(database) -> list[Intervention]:
    with database.session() as db:
        return list(db.scalars(select(Intervention).order_by(Intervention.id)))


def rejections(database) -> list[Rejection]:
    with database.session() as db:
        return list(db.scalars(select(Rejection).order_by(Rejection.id)))


def outcomes(database) -> list[str]:
    """The outcome of every inbound message, in the order received."""
    with database.session() as db:
        return [m.outcome for m in db.scalars(select(InboundMessage).order_by(InboundMessage.id))]


def count(database, model) -> int:
    with database.session() as db:
        return db.scalar(select(func.count()).select_from(model))


def outbox_messages(database) -> list[OutboxMessage]:
    """Every queued message, in the order written."""
    with database.session() as db:
        return list(db.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def outbound(database) -> list[tuple[str, str]]:
    """(partner, kind) of every queued message, in the order written."""
    with database.session() as db:
        return [(m.partner, m.kind) for m in db.scalars(select(OutboxMessage).order_by(OutboxMessage.id))]


def outbound_payloads(database, partner: str) -> list[dict]:
    with database.session() as db:
        query = select(OutboxMessage).where(OutboxMessage.partner == partner).order_by(OutboxMessage.id)
        return [m.payload for m in db.scalars(query)]


def set_pending_schedule(database, schedule: list[int]) -> None:
    """Give every pending outbox message this retry schedule ([] = its next failure is final)."""
    with database.session() as db:
        db.execute(update(OutboxMessage).where(OutboxMessage.status == PENDING).values(schedule=schedule))


def fail_deliveries(database, clock) -> None:
    """Run a real worker against a closed port with the retry schedule used up: every due message is
    attempted once and fails at once (as it would after its last retry)."""
    set_pending_schedule(database, [])
    worker = Worker(database, schedule=[], name="test-worker", clock=clock, timeout=2)
    try:
        worker.run(stop_when_idle=True)
    finally:
        worker.close()
