"""Demo data for the interventions desk: its configuration, teams, and a morning played through the real
rules in every role, so each page has something to show: interventions with their fan-out failing at a
closed port, rejected messages, impacted customers, a DO declaration rejected by a neighbour OI, and an
OC flow (announcements received, outage cuts, an M5 on its way)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from tocsin.core import orgs, outbox
from tocsin.core.auth import StaffUser
from tocsin.interventions.config import apply_config, read_config
from tocsin.interventions.do import service as declarations
from tocsin.interventions.models import M5State, ReceivedIntervention, Rejection
from tocsin.interventions.oc import outages
from tocsin.interventions.oc import service as oc_rules
from tocsin.interventions.oi import service
from tocsin.interventions.protocol import log_rejection
from tocsin.interventions.schemas import ClientsHS, InterventionDO, InterventionOI, ProtocolError, parse

CONFIG = Path(__file__).parent / "demo.yaml"
NEIGHBOUR_PM = "FI-92012-0003"  # OIZZ's PM, where we are an OC and where our technicians work too


def load_demo(db: Session, *, now: datetime) -> str:
    """Load the demo configuration and play a morning in the three roles (idempotent)."""
    config = read_config(CONFIG)
    apply_config(db, config, now=now, actor="demo")
    zone = ZoneInfo(config.timezone)
    start = (now - timedelta(hours=9)).astimezone(zone).replace(minute=0, second=0, microsecond=0)
    _teams(db)
    refs = [_declare(db, start, n, now) for n in range(12)]
    _impacts(db, refs[1], start, now)
    _rejections(db, start, now)
    ko = _declaration_rejected_by_the_neighbour(db, start, now)
    received = _oc_flow(db, start, now)
    return f"{len(refs)} interventions, rejected declaration {ko}, {received} announcement(s) received as OC"


def _teams(db: Session) -> None:
    """The operator and two field teams; the demo technician works in the Paris team."""
    orgs.upsert_org(db, code="OIAA", name="Fibre Infra Démo", kind="operator")
    orgs.upsert_org(db, code="EQ-PARIS", name="Équipe Paris", parent="OIAA")
    orgs.upsert_org(db, code="EQ-LYON", name="Équipe Lyon", parent="OIAA")
    technician = db.scalar(select(StaffUser).where(StaffUser.username == "technicien"))
    if technician is not None:
        orgs.grant(db, user=technician, org="EQ-PARIS", role="technician")


def _declare(db: Session, start: datetime, n: int, now: datetime) -> str | None:
    pms = ["FI-75056-0001", "FI-75056-0002", "FI-69123-0007", "FI-13055-0042"]
    debut = start + timedelta(minutes=35 * n)
    body = {
        "Code_DO": "DOXX" if n % 3 else "OCBB",
        "Code_OI": "OIAA",
        "Ref_Interv_DO": f"DEMO-{start:%Y%m%d}-{n:03d}",
        "PM": pms[n % len(pms)],
        "Nature_PBO_PTO": [{"nature": 1 + n % 2, "PBO": f"PT00{n:05d}", "PTO": f"FI-0000-{n:04d}"}],
        "Debut_Inter": debut.isoformat(),
    }
    sender = str(body["Code_DO"])
    if n % 4 != 3:
        reply = _receive(db, body, sender=sender, at=min(debut + timedelta(minutes=2 + n), now))
    if n % 4 != 0:
        body["Fin_Inter"] = (debut + timedelta(minutes=25 + 5 * n)).isoformat()
        reply = _receive(db, body, sender=sender, at=min(debut + timedelta(minutes=30 + 5 * n), now))
    return reply.ref_oi


def _receive(db: Session, body: dict, *, sender: str, at: datetime):
    message = InterventionDO.model_validate_json(json.dumps(body))
    return service.receive_declaration(db=db, message=message, sender=sender, now=at)


def _impacts(db: Session, ref_oi: str | None, start: datetime, now: datetime) -> None:
    if ref_oi is None:
        return
    cut = (start + timedelta(minutes=45)).isoformat()
    unknown = dict.fromkeys(("PTO", "PBO", "Tube", "Fibre", "Position_PM_Module_OI"), "inconnu")
    known = {
        "PTO": "FI-7505-0101",
        "PBO": "PT0000001",
        "Tube": "2",
        "Fibre": "5",
        "Position_PM_Module_OI": "M1-P3",
    }
    body = {
        "Code_OC_impacte": "OCBB",
        "Ref_Interv_OI": ref_oi,
        "Liste_Clients_HS": [{**known, "HMS_Coupure": cut}, {**unknown, "HMS_Coupure": cut}],
    }
    try:
        service.receive_impacts(
            db=db, message=ClientsHS.model_validate_json(json.dumps(body)), sender="OCBB", now=now
        )
    except ProtocolError:
        return


def _rejections(db: Session, start: datetime, now: datetime) -> None:
    """Two M1s our OI refuses (an unknown PM, no nature line), answered and logged as the API does."""
    if db.scalar(select(Rejection.id).where(Rejection.body.contains("DEMO-BAD-"))) is not None:
        return
    base = {"Code_OI": "OIAA", "Nature_PBO_PTO": [{"nature": 1}], "Debut_Inter": start.isoformat()}
    bad = [
        ({**base, "Code_DO": "DOXX", "Ref_Interv_DO": "DEMO-BAD-PM", "PM": "FI-99999-0000"}, "DOXX"),
        ({**base, "Code_DO": "OCBB", "Ref_Interv_DO": "DEMO-BAD-NATURE", "PM": "FI-75056-0001"}, "OCBB"),
    ]
    bad[1][0]["Nature_PBO_PTO"] = []
    for body, sender in bad:
        raw = json.dumps(body).encode()
        try:
            with db.begin_nested():
                service.receive_declaration(db=db, message=parse(InterventionDO, raw), sender=sender, now=now)
        except ProtocolError as error:
            log_rejection(db, path="/v1/intervention_DO", sender=sender, error=error, body=raw, now=now)


def _declaration_rejected_by_the_neighbour(db: Session, start: datetime, now: datetime) -> str:
    """Our technician worked on OIZZ's PM; OIZZ answered R M1 KO: the KO list offers a correction."""
    team = db.scalar(select(orgs.Organisation.id).where(orgs.Organisation.code == "EQ-PARIS"))
    declaration = declarations.start(
        db=db,
        pm=NEIGHBOUR_PM,
        natures=[{"nature": 2, "PBO": "PT0092012", "PTO": "FI-9201-0042"}],
        started_at=(start + timedelta(hours=2)).isoformat(),
        technician="technicien",
        ref_do=f"OIAA-{start:%Y%m%d}-DEMOKO",
        team=team,
        now=now,
    )
    if declaration.m1_state == declarations.QUEUED:
        message = db.scalar(
            select(outbox.OutboxMessage).where(
                outbox.OutboxMessage.subject == declaration.ref_do, outbox.OutboxMessage.kind == "M1"
            )
        )
        answer = {
            "Code_Reponse": 4,
            "Libelle_Reponse": "PM_INCONNU",
            "Description_Reponse": f"PM inconnu : {NEIGHBOUR_PM}",
        }
        if message is not None:
            message.status, message.finished_at, message.last_status_code = outbox.REJECTED, now, 404
            message.response, message.attempts = answer, 1
        declarations.apply_answer(db, declaration, "M1", declarations.KO, answer, now)
    return declaration.ref_do


def _oc_flow(db: Session, start: datetime, now: datetime) -> int:
    """As OC at OIZZ's PM: OIZZ announced two interventions; our outage feed has cuts during the first,
    whose M5 is on its way to OIZZ (failing at the closed port)."""
    for n, (begin, length) in enumerate(((3, 50), (5, None))):
        debut = start + timedelta(hours=begin)
        body: dict[str, Any] = {"Code_OI": "OIZZ", "Ref_Interv_OI": f"OIZZ-{start:%Y%m%d}-{n:04d}"}
        body |= {"PM": NEIGHBOUR_PM, "Debut_Inter": debut.isoformat(), "PBO": [{"PBO": "PT0092012"}]}
        _announce(db, body, at=min(debut + timedelta(minutes=1), now))
        if length is not None:
            body["Fin_Inter"] = (debut + timedelta(minutes=length)).isoformat()
            _announce(db, body, at=min(debut + timedelta(minutes=length + 1), now))
    first = start + timedelta(hours=3)
    cuts = [
        {
            "cut_at": (first + timedelta(minutes=m)).isoformat(),
            "pm": NEIGHBOUR_PM,
            "pto": pto,
            "pbo": "PT0092012",
        }
        | {"dying_gasp": gasp}
        for m, pto, gasp in (
            (10, "FI-9201-0101", "non"),
            (12, "FI-9201-0102", "non"),
            (14, "FI-9201-0103", "oui"),
        )
    ]
    outages.add_cuts(db=db, cuts=cuts, now=now, actor="demo")
    received = db.scalar(select(ReceivedIntervention).where(ReceivedIntervention.fin.is_not(None)))
    if received is not None and received.m5_state == M5State.NONE:
        outages.queue_m5(db=db, received=received, now=now, actor="demo")
    return len(db.scalars(select(ReceivedIntervention.id)).all())


def _announce(db: Session, body: dict, *, at: datetime) -> None:
    message = InterventionOI.model_validate_json(json.dumps(body))
    oc_rules.receive_announcement(db=db, message=message, sender="OIZZ", now=at)
