"""Demo data for the interventions desk: its configuration and a day of messages through the real rules."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from tocsin.interventions.config import apply_config, read_config
from tocsin.interventions.oi import service
from tocsin.interventions.schemas import ClientsHS, InterventionDO, ProtocolError

CONFIG = Path(__file__).parent / "demo.yaml"
PARIS = ZoneInfo("Europe/Paris")


def load_demo(db: Session, *, now: datetime) -> str:
    """Load the demo configuration and replay a morning of declarations, KOs and impacts."""
    apply_config(db, read_config(CONFIG), now=now, actor="demo")
    start = (now - timedelta(hours=9)).astimezone(PARIS).replace(minute=0, second=0, microsecond=0)
    refs = [_declare(db, start, n, now) for n in range(12)]
    _impacts(db, refs[1], start, now)
    return f"{len(refs)} interventions"


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
    body = {
        "Code_OC_impacte": "OCBB",
        "Ref_Interv_OI": ref_oi,
        "Liste_Clients_HS": [
            {
                "PTO": "FI-7505-0101",
                "PBO": "PT0000001",
                "Tube": "2",
                "Fibre": "5",
                "Position_PM_Module_OI": "M1-P3",
                "HMS_Coupure": cut,
            },
            {
                "PTO": "inconnu",
                "PBO": "inconnu",
                "Tube": "inconnu",
                "Fibre": "inconnu",
                "Position_PM_Module_OI": "inconnu",
                "HMS_Coupure": cut,
            },
        ],
    }
    try:
        service.receive_impacts(
            db=db, message=ClientsHS.model_validate_json(json.dumps(body)), sender="OCBB", now=now
        )
    except ProtocolError:
        return
